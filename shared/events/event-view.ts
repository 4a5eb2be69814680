import { isJsonText } from '../json/json-text';
import type { LogRecord } from '../segment/codec';

/** `application/json`, `application/cloudevents+json`, `text/json` and the like. */
export function isJsonMediaType(contentType: string): boolean {
  const type = contentType.split(';')[0].trim().toLowerCase();
  return type === 'application/json' || type === 'text/json' || type.endsWith('+json');
}

/** Bytes of rendered events one answer or delivery carries at most: room for the envelope within Lambda's 6 MB. */
export const MAX_EVENTS_RESPONSE_BYTES = 5_500_000;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * One stored record as the JSON text of an `EventView` (protocol/event-view.ts). The value is the
 * producer's own bytes whenever JSON can carry them: JSON values are spliced
 * in as the text that was published (never parsed and re-serialized, so
 * numbers keep their digits and no depth of nesting can fail a read), `text/*`
 * values as a JSON string, and anything else — including text that is not
 * UTF-8 — as base64 with `"valueEncoding": "base64"`.
 */
export function eventJson(record: LogRecord, options: { forceBase64?: boolean } = {}): string {
  const head = `{"offset":${record.offset},"timestamp":${JSON.stringify(new Date(record.timestamp).toISOString())},"key":${
    record.key === null ? 'null' : JSON.stringify(record.key.toString('utf8'))
  }`;
  // Headers decoded from a segment are own properties (even `__proto__`), so JSON.stringify keeps them all.
  const tail = `,"headers":${JSON.stringify(record.headers)}`;
  if (!options.forceBase64) {
    const contentType = (record.headers['content-type'] ?? '').toLowerCase();
    if (record.json) return `${head},"value":${record.value.toString('utf8')}${tail}}`;
    if (isJsonMediaType(contentType) || contentType.startsWith('text/')) {
      const text = decodeUtf8(record.value);
      // A content type that claims JSON over bytes that are not (a base64 CloudEvent, say): show the bytes.
      if (text !== undefined && isJsonMediaType(contentType) && isJsonText(text)) {
        return `${head},"value":${text}${tail}}`;
      }
      if (text !== undefined && contentType.startsWith('text/'))
        return `${head},"value":${JSON.stringify(text)}${tail}}`;
    }
  }
  return `${head},"value":"${record.value.toString('base64')}"${tail},"valueEncoding":"base64"}`;
}

function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** What fits a response: the JSON array of the first `count` records, within `maxBytes` (at least one record). */
export interface RenderedEvents {
  readonly json: string;
  readonly count: number;
}

/**
 * Events as the JSON array text readers and delivery targets receive: one
 * rendering for both, so a consumer sees the same bytes whichever way it
 * reads. Stops before the text would pass `maxBytes` (counted as sent, after
 * escaping: a text value of control characters grows up to 6× in JSON). A
 * first event that alone would pass it is sent as base64, which grows only
 * 4/3, so a read always makes progress.
 */
export function renderEvents(
  records: readonly LogRecord[],
  maxBytes = Number.POSITIVE_INFINITY,
): RenderedEvents {
  const parts: string[] = [];
  let bytes = 2;
  for (const record of records) {
    let part = eventJson(record);
    let size = Buffer.byteLength(part) + 1;
    if (bytes + size > maxBytes) {
      if (parts.length > 0) break;
      part = eventJson(record, { forceBase64: true });
      size = Buffer.byteLength(part) + 1;
    }
    parts.push(part);
    bytes += size;
  }
  return { json: `[${parts.join(',')}]`, count: parts.length };
}
