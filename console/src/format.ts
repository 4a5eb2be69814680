import type { ConsumedEvent } from '../../client';

/** How an event's value is shown: JSON pretty-printed, text and base64 as the strings they are. */
export function describeValue(event: ConsumedEvent): { kind: 'json' | 'text' | 'base64'; text: string } {
  if (event.valueEncoding === 'base64') return { kind: 'base64', text: String(event.value) };
  const contentType = Object.entries(event.headers).find(([name]) => name.toLowerCase() === 'content-type');
  if (typeof event.value === 'string' && contentType && /^text\//i.test(contentType[1])) {
    return { kind: 'text', text: event.value };
  }
  return { kind: 'json', text: JSON.stringify(event.value, null, 2) };
}

/** A duration in milliseconds as a person reads it: 850 ms, 12 s, 3 min, 2 h. */
export function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}
