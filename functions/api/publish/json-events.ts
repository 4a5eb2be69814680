import { InvalidRequestError } from '../../../shared/errors';
import type { OutgoingEvent } from '../../../shared/publish/publisher';

/**
 * Parses `{"events": [{"key"?, "value", "headers"?, "partition"?}]}`
 * (API.md, Publish, `application/json`). Unknown fields are errors, so a typo
 * is reported rather than silently ignored.
 */
export function parseJsonEvents(body: unknown): OutgoingEvent[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError('The body must be an object {"events": [...]}.');
  }
  const extra = Object.keys(body).filter((k) => k !== 'events');
  if (extra.length > 0)
    throw new InvalidRequestError(`Unknown field(s) ${extra.map((k) => `"${k}"`).join(', ')}.`);
  const events = (body as { events?: unknown }).events;
  if (!Array.isArray(events)) throw new InvalidRequestError('"events" must be an array of events.');
  return events.map(parseEvent);
}

const EVENT_FIELDS = new Set(['key', 'value', 'headers', 'partition']);

function parseEvent(raw: unknown, i: number): OutgoingEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidRequestError(`events[${i}] must be an object with a "value".`);
  }
  const event = raw as Record<string, unknown>;
  const extra = Object.keys(event).filter((k) => !EVENT_FIELDS.has(k));
  if (extra.length > 0)
    throw new InvalidRequestError(
      `events[${i}] has unknown field(s) ${extra.map((k) => `"${k}"`).join(', ')}.`,
    );
  if (!('value' in event)) throw new InvalidRequestError(`events[${i}] has no "value".`);
  const { key, headers, partition } = event;
  if (key !== undefined && key !== null && typeof key !== 'string') {
    throw new InvalidRequestError(`events[${i}].key must be a string.`);
  }
  if (
    partition !== undefined &&
    (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0)
  ) {
    throw new InvalidRequestError(`events[${i}].partition must be a non-negative integer.`);
  }
  return {
    key: typeof key === 'string' ? key : null,
    value: Buffer.from(JSON.stringify(event.value), 'utf8'),
    json: true,
    headers: parseHeaders(headers, `events[${i}].headers`),
    partition: partition as number | undefined,
  };
}

/** Headers: an object of string values. */
export function parseHeaders(raw: unknown, where: string): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new InvalidRequestError(`${where} must be an object of strings.`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw new InvalidRequestError(`${where}["${name}"] must be a string.`);
    if (name === '') throw new InvalidRequestError(`${where} has an empty header name.`);
    headers[name] = value;
  }
  return headers;
}
