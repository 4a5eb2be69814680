import { duration } from './format';

/** One reading of a group's total lag, taken by the page. */
export interface LagSample {
  readonly at: number;
  readonly lag: number;
}

const WIDTH = 600;
const HEIGHT = 140;
const PAD = 30;

/** Lag over the minutes the page has been watching, drawn as an SVG line (no chart library). */
export function LagChart({ samples, windowMs }: { samples: readonly LagSample[]; windowMs: number }) {
  const now = samples.at(-1)?.at ?? 0;
  const top = Math.max(1, ...samples.map((s) => s.lag));
  const x = (at: number) => PAD + ((at - (now - windowMs)) / windowMs) * (WIDTH - PAD - 8);
  const y = (lag: number) => HEIGHT - PAD + 8 - (lag / top) * (HEIGHT - PAD - 8);
  const points = samples.map((s) => `${x(s.at).toFixed(1)},${y(s.lag).toFixed(1)}`).join(' ');
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        width={WIDTH}
        height={HEIGHT}
        role="img"
        aria-label="Lag over time"
      >
        <line class="axis" x1={PAD} y1={HEIGHT - PAD + 8} x2={WIDTH - 8} y2={HEIGHT - PAD + 8} />
        <line class="axis" x1={PAD} y1={8} x2={PAD} y2={HEIGHT - PAD + 8} />
        <text x={PAD - 4} y={14} text-anchor="end">
          {top}
        </text>
        <text x={PAD - 4} y={HEIGHT - PAD + 8} text-anchor="end">
          0
        </text>
        <text x={PAD} y={HEIGHT - 6}>
          −{duration(windowMs)}
        </text>
        <text x={WIDTH - 8} y={HEIGHT - 6} text-anchor="end">
          now
        </text>
        {samples.length > 1 && <polyline class="line" points={points} />}
        {samples.map((s) => (
          <circle key={s.at} class="dot" cx={x(s.at)} cy={y(s.lag)} r={2} />
        ))}
      </svg>
      <figcaption>
        Total lag, sampled every 2 s by this page over the last {duration(windowMs)} ({samples.length}{' '}
        samples).
      </figcaption>
    </figure>
  );
}
