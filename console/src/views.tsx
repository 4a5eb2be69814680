import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ConsumedEvent } from '../../client';
import { describeValue } from './format';
import { explain } from './session';

/** The state of one call: loading, its answer, or why it failed. */
export type Loaded<T> =
  | { state: 'loading' }
  | { state: 'done'; value: T }
  | { state: 'failed'; error: unknown };

/** Calls `load` when its dependencies change; `reload` calls it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (value) => current && setLoaded({ state: 'done', value }),
      (error) => current && setLoaded({ state: 'failed', error }),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  return [loaded, () => setRound((r) => r + 1)];
}

/** A failure explained in words (a 403 says which permission is missing), never a blank view. */
export function Problem({ error }: { error: unknown }) {
  return (
    <p class="problem" role="alert">
      {explain(error)}
    </p>
  );
}

/** Renders an answer once it is there. */
export function Show<T>({
  loaded,
  children,
}: {
  loaded: Loaded<T>;
  children: (value: T) => ComponentChildren;
}) {
  if (loaded.state === 'loading') return <p class="muted">Loading…</p>;
  if (loaded.state === 'failed') return <Problem error={loaded.error} />;
  return <>{children(loaded.value)}</>;
}

/** A two-step button: the first click asks, the second acts. No browser dialog. */
export function ConfirmButton({
  label,
  question,
  onConfirm,
}: {
  label: string;
  question: string;
  onConfirm: () => void;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button type="button" onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    <span class="confirm">
      <span>{question}</span>{' '}
      <button
        type="button"
        class="danger"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Confirm
      </button>{' '}
      <button type="button" class="secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** Events as a list: offset, time, key, headers and value, every one of them as text. */
export function EventList({ events }: { events: readonly ConsumedEvent[] }) {
  if (events.length === 0) return <p class="muted">No events here.</p>;
  return (
    <ol class="events">
      {events.map((event) => {
        const value = describeValue(event);
        return (
          <li key={event.offset} class="event">
            <div class="event-head">
              <span class="offset">#{event.offset}</span> <time>{event.timestamp}</time>{' '}
              <span class="label">key</span> <code class="event-key">{event.key ?? '(none)'}</code>
            </div>
            {Object.keys(event.headers).length > 0 && (
              <dl class="headers">
                {Object.entries(event.headers).map(([name, headerValue]) => (
                  <div key={name}>
                    <dt>{name}</dt>
                    <dd>{headerValue}</dd>
                  </div>
                ))}
              </dl>
            )}
            <div class="value">
              <span class="label">{value.kind}</span>
              <pre>{value.text}</pre>
            </div>
          </li>
        );
      })}
    </ol>
  );
}
