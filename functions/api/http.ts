import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { InvalidRequestError } from '../../shared/errors';
import { type JsonNode, parseJsonText, plainValue, utf8Text } from '../../shared/json/json-text';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * Why an answer that is not an error thrown (a 503 naming the events that
 * could not be committed) was given: the access log writes it down, once.
 */
const causes = new WeakMap<HttpResult, unknown>();

export function withCause(result: HttpResult, cause: unknown): HttpResult {
  causes.set(result, cause);
  return result;
}

export function causeOf(result: HttpResult | undefined): unknown {
  return result ? causes.get(result) : undefined;
}

export function noContent(): HttpResult {
  return { statusCode: 204, headers: {}, body: '' };
}

/** The request body's size in bytes, without copying it. */
export function bodySize(event: HttpEvent): number {
  if (!event.body) return 0;
  return Buffer.byteLength(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/** The raw request body; Function URLs base64-encode bodies that are not text. */
export function bodyBytes(event: HttpEvent): Buffer {
  if (!event.body) return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/** The body as text: a text body as it came, uncopied; a base64 one decoded, refusing bytes that are not UTF-8. */
export function bodyText(event: HttpEvent): string {
  return event.isBase64Encoded ? utf8Text(bodyBytes(event), 'The request body') : (event.body ?? '');
}

/** Nesting a control request (a topic, a key, a subscription) may have: they are a few levels deep. */
const MAX_REQUEST_DEPTH = 32;

/**
 * The body as a JSON document whose nodes know their text (shared/json/json-text.ts), or
 * INVALID_REQUEST saying why not.
 */
export function jsonDocument(
  event: HttpEvent,
  options: { maxDepth: number; retainDepth?: number },
): { text: string; root: JsonNode } {
  const text = bodyText(event);
  if (text.trim() === '') throw new InvalidRequestError('The request body is empty; send a JSON document.');
  return { text, root: parseJsonText(text, { ...options, what: 'The request body' }) };
}

/**
 * The body parsed as JSON into plain values, or INVALID_REQUEST saying why
 * not. Objects have no prototype, so a member named `__proto__` is data
 * like any other and cannot pose as an inherited attribute.
 */
export function jsonBody(event: HttpEvent): unknown {
  const { text, root } = jsonDocument(event, { maxDepth: MAX_REQUEST_DEPTH });
  return plainValue(text, root);
}

/** A header by name, whatever its case (Function URLs lower-case them; other callers may not). */
export function header(event: HttpEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** A path parameter set by the router (already URL-decoded). */
export function pathParam(event: HttpEvent, name: string): string {
  const raw = event.pathParameters?.[name];
  if (raw === undefined) throw new InvalidRequestError(`Missing path parameter "${name}".`);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidRequestError(`Path parameter "${name}" is not valid URL encoding.`);
  }
}

export function query(event: HttpEvent, name: string): string | undefined {
  return event.queryStringParameters?.[name];
}

/** A non-negative integer from the query string, within `max`. */
export function intQuery(
  event: HttpEvent,
  name: string,
  options: { default?: number; max?: number; min?: number } = {},
): number | undefined {
  const raw = query(event, name);
  if (raw === undefined || raw === '') return options.default;
  const value = Number(raw);
  const min = options.min ?? 0;
  if (
    !/^\d+$/.test(raw) ||
    !Number.isSafeInteger(value) ||
    value < min ||
    (options.max !== undefined && value > options.max)
  ) {
    const range = options.max !== undefined ? `from ${min} to ${options.max}` : `of at least ${min}`;
    throw new InvalidRequestError(`Query parameter "${name}" must be an integer ${range}, got "${raw}".`);
  }
  return value;
}
