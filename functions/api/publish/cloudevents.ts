import { CloudEvent, ValidationError } from 'cloudevents';
import { InvalidRequestError } from '../../../shared/errors';
import { isJsonMediaType } from '../../../shared/events/event-view';
import {
  assertWellFormed,
  isJsonText,
  type JsonNode,
  MAX_VALUE_DEPTH,
  plainValue,
  textOf,
  utf8Text,
} from '../../../shared/json/json-text';
import type { OutgoingEvent } from '../../../shared/publish/publisher';
import type { ApiRequest } from '../request';

/** How a request carries CloudEvents (HTTP protocol binding, section 3). */
export type CloudEventsMode = 'binary' | 'structured' | 'batch';

const STRUCTURED_TYPE = 'application/cloudevents+json';
const BATCH_TYPE = 'application/cloudevents-batch+json';

/** The context attributes CloudEvents 1.0 defines; every other attribute is an extension. */
const SPEC_ATTRIBUTES = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'datacontenttype',
  'dataschema',
  'subject',
  'time',
]);
const REQUIRED_ATTRIBUTES = ['specversion', 'id', 'source', 'type'] as const;
/** Names that may not be extensions: the data members of the JSON format. */
const RESERVED_NAMES = new Set(['data', 'data_base64']);
const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
/** RFC 3339 needs the offset; the SDK's date-time check lets a bare local time through. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Where an event came from, for messages that say what to fix. */
interface Origin {
  /** `The event`, `events[2]`. */
  readonly where: string;
  /** How the request names an attribute: `"id"` in a JSON body, header `ce-id` in binary mode. */
  readonly name: (attribute: string) => string;
}

/**
 * Which CloudEvents mode a request uses, or undefined when it is not a
 * CloudEvents request. Binary mode needs `ce-specversion`; on a content type
 * other than `application/json` any of `ce-id`, `ce-source`, `ce-type` is
 * enough, so a sender who forgot `ce-specversion` is told so rather than getting
 * 415. `application/json` without `ce-specversion` stays the bus's own format.
 * Other `application/cloudevents…` formats (XML, Avro) are not CloudEvents the
 * bus reads, and fall through to 415.
 *
 * @example
 * cloudEventsMode({ headers: { 'content-type': 'application/cloudevents+json' } }); // 'structured'
 */
export function cloudEventsMode(request: Pick<ApiRequest, 'headers'>): CloudEventsMode | undefined {
  const { headers } = request;
  const type = mediaType(headers['content-type']);
  if (type === STRUCTURED_TYPE) return 'structured';
  if (type === BATCH_TYPE) return 'batch';
  if (type.startsWith('application/cloudevents')) return undefined;
  if (headers['ce-specversion'] !== undefined) return 'binary';
  if (type === 'application/json') return undefined;
  const someRequired = ['ce-id', 'ce-source', 'ce-type'].some((name) => headers[name] !== undefined);
  return someRequired ? 'binary' : undefined;
}

/**
 * Parses CloudEvents 1.0 sent over the HTTP binding (binary, structured or
 * batch mode) into events stored the way the Kafka protocol binding stores
 * them in binary mode: each attribute a `ce_<name>` header with its canonical
 * string value, `datacontenttype` the `content-type` header, the data the
 * value. Undefined when the request is not a CloudEvents request; every
 * invalid event is INVALID_REQUEST, so one bad event refuses the whole request.
 *
 * The `partitionkey` extension becomes the key and also stays a
 * `ce_partitionkey` header: the Kafka binding's key mapping "MUST NOT modify
 * the CloudEvent", so the headers alone still hold the whole event.
 *
 * Data: a JSON `data` member (no `datacontenttype`, or a JSON one) is stored
 * as its JSON text and read back parsed; a string `data` with another type is
 * stored as its UTF-8 bytes (read back as a string for `text/*`), any other
 * `data` as JSON text; `data_base64` as the decoded bytes; a binary-mode
 * body as sent, flagged JSON when its content type is JSON. `"data": null` is
 * unset, as the JSON format says of every null member, and gives an empty value.
 *
 * @example
 * const events = parseCloudEvents(request) ?? parseJsonEvents(text, root);
 */
export function parseCloudEvents(request: ApiRequest): OutgoingEvent[] | undefined {
  switch (cloudEventsMode(request)) {
    case undefined:
      return undefined;
    case 'binary':
      return [parseBinary(request)];
    case 'structured': {
      // One event: its attributes one level down, `data` kept as text below them.
      const { text, root } = request.body.jsonDocument({ maxDepth: 1 + MAX_VALUE_DEPTH, retainDepth: 1 });
      return [parseStructured(text, root, { where: 'The event', name: (a) => `"${a}"` })];
    }
    case 'batch': {
      const { text, root } = request.body.jsonDocument({ maxDepth: 2 + MAX_VALUE_DEPTH, retainDepth: 2 });
      return parseBatch(text, root);
    }
  }
}

function parseBatch(text: string, root: JsonNode): OutgoingEvent[] {
  if (root.type !== 'array') {
    throw new InvalidRequestError(`A ${BATCH_TYPE} body must be a JSON array of CloudEvents.`);
  }
  const items = root.items as JsonNode[];
  if (items.length === 0) {
    throw new InvalidRequestError('The batch is empty; send at least one CloudEvent in the array.');
  }
  return items.map((node, i) =>
    parseStructured(text, node, { where: `events[${i}]`, name: (a) => `"${a}"` }),
  );
}

/** One event in the JSON event format: attributes and extensions as top-level members, then `data` or `data_base64`. */
function parseStructured(text: string, node: JsonNode, origin: Origin): OutgoingEvent {
  if (node.type !== 'object') {
    throw new InvalidRequestError(
      `${origin.where} must be a JSON object with "specversion", "id", "source" and "type".`,
    );
  }
  const members = node.members as Map<string, JsonNode>;
  // Own members only, in an object without a prototype: `__proto__` cannot supply an attribute.
  const attributes: Record<string, unknown> = Object.create(null);
  for (const [name, member] of members) {
    // The JSON format: a null member is the same as an absent one.
    if (name !== 'data' && name !== 'data_base64' && member.type !== 'null') {
      attributes[name] = plainValue(text, member);
    }
  }
  const contentType = attributes.datacontenttype;
  const context = toContext(attributes, origin);

  const data = members.get('data');
  const dataBase64 = members.get('data_base64');
  const hasData = data !== undefined && data.type !== 'null';
  const hasBase64 = dataBase64 !== undefined && dataBase64.type !== 'null';
  if (hasData && hasBase64) {
    throw new InvalidRequestError(`${origin.where} has both "data" and "data_base64"; send one of them.`);
  }
  let value = Buffer.alloc(0);
  let json = false;
  if (hasBase64) {
    if (dataBase64?.type !== 'string' || !BASE64.test(dataBase64.value)) {
      throw new InvalidRequestError(
        `${origin.where}: "data_base64" must be a base64 string (RFC 4648, with padding).`,
      );
    }
    value = Buffer.from(dataBase64.value, 'base64');
  } else if (data && hasData) {
    const isText = data.type === 'string' && typeof contentType === 'string' && !isJsonMediaType(contentType);
    if (data.type === 'string' && isText) {
      assertWellFormed(data.value, `${origin.where}: "data"`);
      value = Buffer.from(data.value, 'utf8');
    } else {
      // JSON data is stored as the text the producer wrote.
      value = Buffer.from(textOf(text, data), 'utf8');
    }
    json = !isText;
  }
  return { ...context, value, json };
}

/** Attributes in `ce-` headers, `datacontenttype` in `Content-Type`, the body the data as sent. */
function parseBinary(request: ApiRequest): OutgoingEvent {
  const origin: Origin = { where: 'The event', name: (a) => `header "ce-${a}"` };
  // Header names are the client's: kept without a prototype, so `ce-__proto__` is an attribute like any other.
  const attributes: Record<string, unknown> = Object.create(null);
  for (const [lower, rawValue] of Object.entries(request.headers)) {
    if (!lower.startsWith('ce-')) continue;
    const name = lower.slice(3);
    if (name === 'datacontenttype') {
      throw new InvalidRequestError(
        'Binary mode carries datacontenttype as the Content-Type header; drop header "ce-datacontenttype".',
      );
    }
    attributes[name] = decodeHeaderValue(rawValue, `header "${lower}"`);
  }
  const contentType = request.headers['content-type'];
  if (contentType !== undefined && contentType !== '') attributes.datacontenttype = contentType;
  const context = toContext(attributes, origin);

  const value = request.body.bytes();
  const json = contentType !== undefined && isJsonMediaType(contentType) && value.length > 0;
  // JSON data is checked as strictly as any JSON the bus takes (UTF-8, no duplicate names, bounded nesting).
  if (json && !isJsonText(utf8Text(value, 'The body'), MAX_VALUE_DEPTH)) {
    throw new InvalidRequestError(
      `The body is not valid JSON though Content-Type is "${contentType}" (or it repeats a member name, or nests deeper than ${MAX_VALUE_DEPTH} levels).`,
    );
  }
  return { ...context, value, json };
}

/**
 * Validates an event's attributes and maps them to the stored key and
 * headers. The required attributes, `specversion` and extensions are checked
 * here (the SDK would invent a missing `id` or `specversion`, passes any
 * `specversion` but 1.0 unvalidated, and accepts object-valued extensions);
 * the SDK's JSON schema checks the types and formats of the attributes the
 * spec defines.
 */
function toContext(
  attributes: Record<string, unknown>,
  origin: Origin,
): Pick<OutgoingEvent, 'key' | 'headers'> {
  const { where, name } = origin;
  const missing = REQUIRED_ATTRIBUTES.filter((a) => attributes[a] === undefined);
  if (missing.length > 0) {
    throw new InvalidRequestError(
      `${where} has no ${missing.map(name).join(', ')}; a CloudEvent needs specversion, id, source and type.`,
    );
  }
  if (attributes.specversion !== '1.0') {
    throw new InvalidRequestError(
      `${where}: specversion ${JSON.stringify(attributes.specversion)} is not supported; this bus takes CloudEvents 1.0: set ${name('specversion')} to "1.0".`,
    );
  }
  for (const required of REQUIRED_ATTRIBUTES) {
    const value = attributes[required];
    if (typeof value !== 'string' || value === '') {
      throw new InvalidRequestError(`${where}: ${name(required)} must be a non-empty string.`);
    }
  }
  const time = attributes.time;
  if (time !== undefined && (typeof time !== 'string' || !RFC3339.test(time))) {
    throw new InvalidRequestError(
      `${where}: ${name('time')} must be an RFC 3339 timestamp with an offset, like "2018-04-05T17:31:00Z".`,
    );
  }

  const specAttributes: Record<string, unknown> = Object.create(null);
  const extensions: Record<string, string> = Object.create(null);
  for (const [attribute, value] of Object.entries(attributes)) {
    if (SPEC_ATTRIBUTES.has(attribute)) {
      specAttributes[attribute] = value;
      continue;
    }
    if (RESERVED_NAMES.has(attribute) || !ATTRIBUTE_NAME.test(attribute)) {
      throw new InvalidRequestError(
        `${where}: ${name(attribute)} is not a valid extension; CloudEvents attribute names are lower-case letters a-z and digits 0-9 only.`,
      );
    }
    extensions[attribute] = canonicalString(value, name(attribute), where);
  }
  validateWithSdk(specAttributes, origin);

  for (const [attribute, value] of Object.entries({ ...specAttributes, ...extensions })) {
    if (typeof value === 'string') assertWellFormed(value, `${where}: ${name(attribute)}`);
  }
  // Kafka binding, binary mode: datacontenttype is content-type, every other attribute a ce_ header.
  const headers: Record<string, string> = Object.create(null);
  for (const attribute of ['specversion', 'id', 'source', 'type', 'time', 'subject', 'dataschema']) {
    const value = specAttributes[attribute];
    if (value !== undefined) headers[`ce_${attribute}`] = value as string;
  }
  for (const [attribute, value] of Object.entries(extensions)) headers[`ce_${attribute}`] = value;
  if (specAttributes.datacontenttype !== undefined)
    headers['content-type'] = specAttributes.datacontenttype as string;
  return { key: extensions.partitionkey ?? null, headers };
}

/**
 * Runs the SDK's schema over the spec's attributes (types, URI and date-time
 * formats). Extensions are left out on purpose: the SDK assigns them onto the
 * event object, so one named `validate` or `emit` would break its own methods.
 */
function validateWithSdk(specAttributes: Record<string, unknown>, { where, name }: Origin): void {
  try {
    new CloudEvent(specAttributes, true);
  } catch (error) {
    throw new InvalidRequestError(`${where}: ${describeSdkError(error, name)}`, { cause: error });
  }
}

function describeSdkError(error: unknown, name: (attribute: string) => string): string {
  const details = error instanceof ValidationError ? (error.errors ?? []) : [];
  if (details.length > 0) {
    const problems = details.map((problem) => {
      const { instancePath, message } = problem as { instancePath?: string; message?: string };
      const attribute = instancePath?.replace(/^\//, '');
      return attribute ? `${name(attribute)} ${message ?? 'is invalid'}` : (message ?? String(problem));
    });
    return `${problems.join('; ')}.`;
  }
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return `it is not a valid CloudEvent: ${message}.`;
}

/** The CloudEvents type system's canonical string (what a `ce_` header holds): String, Integer or Boolean in JSON. */
function canonicalString(value: unknown, label: string, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number' && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) {
    return String(value);
  }
  throw new InvalidRequestError(
    `${where}: ${label} must be a string, a boolean or a 32-bit integer (CloudEvents type system).`,
  );
}

/**
 * HTTP binding 3.1.3.2: a header value is unquoted if double-quoted, then
 * percent-decoded once; bytes that are not UTF-8 are refused. (The JS SDK
 * v10 sends values without percent-encoding, so a literal `%` from it must be
 * sent as `%25`.)
 */
function decodeHeaderValue(raw: string, label: string): string {
  let value = raw.trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    value = value.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  try {
    return decodeURIComponent(value);
  } catch (error) {
    throw new InvalidRequestError(
      `${label} is not valid percent-encoded UTF-8; encode "%" as "%25" and non-ASCII characters as UTF-8 bytes.`,
      { cause: error },
    );
  }
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}
