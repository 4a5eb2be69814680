import { InvalidRequestError } from '../../../shared/errors';
import { assertWellFormed, type JsonNode, MAX_VALUE_DEPTH, textOf } from '../../../shared/json/json-text';
import type { OutgoingEvent } from '../../../shared/publish/publisher';

/** Levels of `{"events": [{"value": …}]}` around a value. */
const ENVELOPE_DEPTH = 3;

/** How deep the request document is parsed: values may nest MAX_VALUE_DEPTH levels inside the envelope. */
export const JSON_EVENTS_PARSE = {
  maxDepth: ENVELOPE_DEPTH + MAX_VALUE_DEPTH,
  retainDepth: ENVELOPE_DEPTH + 1,
};

/**
 * Parses `{"events": [{"key"?, "value", "headers"?, "partition"?}]}`
 * (docs/api.md, Publish, `application/json`) from the request document. Each
 * value is stored as the exact text the producer sent. Unknown fields are
 * errors, so a typo is reported rather than silently ignored.
 */
export function parseJsonEvents(text: string, root: JsonNode): OutgoingEvent[] {
  if (root.type !== 'object') throw new InvalidRequestError('The body must be an object {"events": [...]}.');
  const members = root.members as Map<string, JsonNode>;
  const extra = [...members.keys()].filter((k) => k !== 'events');
  if (extra.length > 0) throw new InvalidRequestError(`Unknown field(s) ${extra.map(quote).join(', ')}.`);
  const events = members.get('events');
  if (events?.type !== 'array') throw new InvalidRequestError('"events" must be an array of events.');
  return (events.items as JsonNode[]).map((event, i) => parseEvent(text, event, i));
}

const EVENT_FIELDS = new Set(['key', 'value', 'headers', 'partition']);

function parseEvent(text: string, node: JsonNode, i: number): OutgoingEvent {
  if (node.type !== 'object') throw new InvalidRequestError(`events[${i}] must be an object with a "value".`);
  const members = node.members as Map<string, JsonNode>;
  const extra = [...members.keys()].filter((k) => !EVENT_FIELDS.has(k));
  if (extra.length > 0) {
    throw new InvalidRequestError(`events[${i}] has unknown field(s) ${extra.map(quote).join(', ')}.`);
  }
  const value = members.get('value');
  if (!value) throw new InvalidRequestError(`events[${i}] has no "value".`);
  const key = members.get('key');
  if (key && key.type !== 'string' && key.type !== 'null') {
    throw new InvalidRequestError(`events[${i}].key must be a string.`);
  }
  if (key?.type === 'string') assertWellFormed(key.value, `events[${i}].key`);
  const partition = members.get('partition');
  let partitionNumber: number | undefined;
  if (partition && partition.type !== 'null') {
    partitionNumber = partition.type === 'number' ? Number(textOf(text, partition)) : Number.NaN;
    if (!Number.isSafeInteger(partitionNumber) || partitionNumber < 0) {
      throw new InvalidRequestError(`events[${i}].partition must be a non-negative integer.`);
    }
  }
  return {
    key: key?.type === 'string' ? key.value : null,
    // The value's own text, as sent: numbers keep their digits, nothing is re-serialized.
    value: Buffer.from(textOf(text, value), 'utf8'),
    json: true,
    headers: parseHeaders(members.get('headers'), `events[${i}].headers`),
    partition: partitionNumber,
  };
}

/**
 * Headers: an object of string values, kept in an object without a
 * prototype, so a header named `__proto__` is kept like any other.
 */
export function parseHeaders(node: JsonNode | undefined, where: string): Record<string, string> {
  const headers: Record<string, string> = Object.create(null);
  if (node === undefined || node.type === 'null') return headers;
  if (node.type !== 'object') throw new InvalidRequestError(`${where} must be an object of strings.`);
  for (const [name, value] of node.members as Map<string, JsonNode>) {
    if (value.type !== 'string') throw new InvalidRequestError(`${where}["${name}"] must be a string.`);
    if (name === '') throw new InvalidRequestError(`${where} has an empty header name.`);
    assertWellFormed(name, `${where} name "${name}"`);
    assertWellFormed(value.value, `${where}["${name}"]`);
    headers[name] = value.value;
  }
  return headers;
}

function quote(name: string): string {
  return JSON.stringify(name);
}
