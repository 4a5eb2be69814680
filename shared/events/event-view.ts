import type { LogRecord } from '../segment/codec';

/** An event as the API shows it to readers and delivery targets (API.md, Read). */
export interface EventView {
  readonly offset: number;
  readonly timestamp: string;
  readonly key: string | null;
  readonly value: unknown;
  readonly headers: Record<string, string>;
  /** Present when the value is not JSON or text and is shown as base64. */
  readonly valueEncoding?: 'base64';
}

/**
 * A stored record as the API shows it: the value as JSON when it was
 * published as JSON (or says so in its `content-type` header), as a string for
 * `text/*`, otherwise as base64.
 */
export function toEventView(record: LogRecord): EventView {
  const base = {
    offset: record.offset,
    timestamp: new Date(record.timestamp).toISOString(),
    key: record.key === null ? null : record.key.toString('utf8'),
    headers: record.headers,
  };
  const contentType = (record.headers['content-type'] ?? '').toLowerCase();
  if (record.json || isJsonMediaType(contentType)) {
    try {
      return { ...base, value: JSON.parse(record.value.toString('utf8')) };
    } catch {
      // A content-type that claims JSON over bytes that are not: show the bytes.
    }
  } else if (contentType.startsWith('text/')) {
    return { ...base, value: record.value.toString('utf8') };
  }
  return { ...base, value: record.value.toString('base64'), valueEncoding: 'base64' };
}

/** `application/json`, `application/cloudevents+json`, `text/json` and the like. */
export function isJsonMediaType(contentType: string): boolean {
  const type = contentType.split(';')[0].trim().toLowerCase();
  return type === 'application/json' || type === 'text/json' || type.endsWith('+json');
}

/**
 * Events as the JSON array text readers and delivery targets receive: one
 * rendering for both, so a consumer sees the same bytes whichever way it reads.
 */
export function eventsJson(records: readonly LogRecord[]): string {
  return JSON.stringify(records.map(toEventView));
}
