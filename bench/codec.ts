import { decodeSegment, encodeSegment, type SegmentCodec, type SegmentRecord } from '../shared/segment/codec';

export interface CodecResult {
  readonly codec: SegmentCodec;
  readonly records: number;
  readonly valueBytes: number;
  /** Encoded segment size, header included. */
  readonly segmentBytes: number;
  /** Mean time of one `encodeSegment` of all the records, in µs. */
  readonly encodeUs: number;
  /** Mean time of one `decodeSegment` (CRC check included), in µs. */
  readonly decodeUs: number;
}

/**
 * Times `encodeSegment` and `decodeSegment` in this process: `records`
 * records whose values are `values` (JSON strings of about 1 KiB), one
 * segment per call, for about `runMs` each after a warm-up.
 */
export function measureCodec(values: readonly Buffer[], codec: SegmentCodec, runMs = 1_000): CodecResult {
  const timestamp = Date.now();
  const records: SegmentRecord[] = values.map((value) => ({
    timestamp,
    key: null,
    value,
    json: true,
    headers: {},
  }));
  const segment = encodeSegment(records, { codec });
  const encodeUs = timePerCall(() => encodeSegment(records, { codec }), runMs);
  const decodeUs = timePerCall(() => decodeSegment(segment.bytes, 0), runMs);
  return {
    codec,
    records: records.length,
    valueBytes: values[0]?.length ?? 0,
    segmentBytes: segment.bytes.length,
    encodeUs: round(encodeUs, 1),
    decodeUs: round(decodeUs, 1),
  };
}

/** Mean µs per call: a warm-up of a quarter of `runMs`, then as many calls as fit in `runMs`. */
function timePerCall(fn: () => unknown, runMs: number): number {
  const warmUntil = performance.now() + runMs / 4;
  while (performance.now() < warmUntil) fn();
  let calls = 0;
  const started = performance.now();
  let now = started;
  while (now - started < runMs) {
    for (let i = 0; i < 10; i++) fn();
    calls += 10;
    now = performance.now();
  }
  return ((now - started) * 1000) / calls;
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}
