import { InvalidRequestError } from '../../shared/errors';
import { type JsonNode, parseJsonText, plainValue, utf8Text } from '../../shared/json/json-text';
import type { HttpEvent } from './http';

/**
 * A request as the routes see it: the Function URL event parsed once, at the
 * edge. Every map whose names come from the client (headers, query, path
 * parameters) has no prototype, so a name such as `__proto__` or
 * `constructor` is data like any other and cannot pose as something inherited.
 */
export interface ApiRequest {
  readonly method: string;
  /** The path as sent (`rawPath`), for the access log and error messages. */
  readonly path: string;
  /** Header names in lower case; repeated headers joined with `, ` as HTTP allows. */
  readonly headers: Readonly<Record<string, string>>;
  /** Query parameters as the Function URL gives them (repeats joined with `,`). */
  readonly query: Readonly<Record<string, string>>;
  /** Path parameters set by the router, URL-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly body: RequestBody;
  /**
   * The caller's ARN when the Function URL authenticated it with IAM (`urlAuthType: AWS_IAM`). Only Lambda
   * sets it: a client cannot put it in a request.
   */
  readonly iamCaller?: string;
}

/**
 * The request body, decoded at most once: Function URLs base64-encode bodies
 * that are not text, and a publish request may be 6 MB, so neither its bytes
 * nor its text are copied twice.
 *
 * @example
 * const body = new RequestBody('{"partitions": 1}', false);
 * body.size; // 17, without decoding
 * body.json(); // [Object: null prototype] { partitions: 1 }
 */
export class RequestBody {
  private decodedBytes?: Buffer;
  private decodedText?: string;

  constructor(
    private readonly raw: string | undefined,
    private readonly base64: boolean,
  ) {}

  /** Whether the request has no body at all (or an empty one). */
  get empty(): boolean {
    return !this.raw;
  }

  /** The body's size in bytes, without decoding it. */
  get size(): number {
    if (!this.raw) return 0;
    return this.decodedBytes?.length ?? Buffer.byteLength(this.raw, this.base64 ? 'base64' : 'utf8');
  }

  /** The raw bytes. */
  bytes(): Buffer {
    this.decodedBytes ??= this.raw ? Buffer.from(this.raw, this.base64 ? 'base64' : 'utf8') : Buffer.alloc(0);
    return this.decodedBytes;
  }

  /** The body as text: a text body as it came, uncopied; a base64 one decoded, refusing bytes that are not UTF-8. */
  text(): string {
    this.decodedText ??= this.base64 ? utf8Text(this.bytes(), 'The request body') : (this.raw ?? '');
    return this.decodedText;
  }

  /**
   * The body as a JSON document whose nodes know their text
   * (shared/json/json-text.ts): duplicate names refused, depth bounded,
   * values kept as written. INVALID_REQUEST saying why not.
   */
  jsonDocument(options: { maxDepth: number; retainDepth?: number }): { text: string; root: JsonNode } {
    const text = this.text();
    if (text.trim() === '') throw new InvalidRequestError('The request body is empty; send a JSON document.');
    return { text, root: parseJsonText(text, { ...options, what: 'The request body' }) };
  }

  /**
   * The body as plain values for a control request (a topic, a key, a
   * subscription), parsed as strictly as a publish body. Objects have no
   * prototype, so a schema reading them sees own members only.
   */
  json(): unknown {
    const { text, root } = this.jsonDocument({ maxDepth: MAX_CONTROL_DEPTH });
    return plainValue(text, root);
  }
}

/** Nesting a control request may have: they are a few levels deep. */
const MAX_CONTROL_DEPTH = 32;

/**
 * Parses a Function URL event (payload format 2.0) into an {@link ApiRequest}.
 * Only path parameters can be wrong here (bad URL encoding): INVALID_REQUEST.
 *
 * @example
 * const request = parseRequest(event);
 * request.headers['content-type']; // whatever case the client used
 */
export function parseRequest(event: HttpEvent): ApiRequest {
  const headers: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    headers[lower] = lower in headers ? `${headers[lower]}, ${value}` : value;
  }
  const query: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  const params: Record<string, string> = Object.create(null);
  for (const [name, raw] of Object.entries(event.pathParameters ?? {})) {
    if (raw === undefined) continue;
    try {
      params[name] = decodeURIComponent(raw);
    } catch {
      throw new InvalidRequestError(`Path parameter "${name}" is not valid URL encoding.`);
    }
  }
  return {
    method: event.requestContext?.http?.method ?? 'GET',
    path: event.rawPath ?? '/',
    headers,
    query,
    params,
    body: new RequestBody(event.body, event.isBase64Encoded ?? false),
    iamCaller: (event.requestContext as { authorizer?: { iam?: { userArn?: string } } } | undefined)
      ?.authorizer?.iam?.userArn,
  };
}
