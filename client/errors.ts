/**
 * The errors the client throws, one class per API error `code` (API.md,
 * "Errors"). Every one is an {@link EventBusError}: switch on `code` (stable)
 * or use `instanceof`; `retryable` says whether the same request may succeed
 * later, `retryAfterMs` when.
 */

import { type ErrorCode, isErrorCode } from '../protocol';

/**
 * What an {@link EventBusError}'s `code` can be: one of the API's codes
 * (`ERROR_CODES`), the client's own `NETWORK_ERROR` and `PRODUCER_CLOSED`,
 * or a code this client does not know yet (the API adds codes, never
 * changes them).
 */
export type EventBusErrorCode = ErrorCode | 'NETWORK_ERROR' | 'PRODUCER_CLOSED' | (string & {});

export interface EventBusErrorOptions {
  readonly cause?: unknown;
  /** From the answer's `Retry-After`, in milliseconds. */
  readonly retryAfterMs?: number;
  /** The error body's other members (for example `startOffset`), and a publish answer's `results`. */
  readonly details?: Readonly<Record<string, unknown>>;
  /** Overrides the default: a 429 or 503, a network error or an answer with `Retry-After` is retryable. */
  readonly retryable?: boolean;
}

/**
 * An error answered by the bus (or a request that never got an answer).
 *
 * @example
 * try {
 *   await client.describeTopic('orders');
 * } catch (error) {
 *   if (error instanceof EventBusError && error.code === 'TOPIC_NOT_FOUND') await client.createTopic('orders', { partitions: 3, retentionHours: 168 });
 *   else throw error;
 * }
 */
export class EventBusError extends Error {
  readonly code: EventBusErrorCode;
  /** The HTTP status; 0 when no answer came (`NETWORK_ERROR`). */
  readonly status: number;
  /** Whether sending the same request again may succeed. */
  readonly retryable: boolean;
  /** How long the bus asked the caller to wait before retrying (`Retry-After`), in milliseconds. */
  readonly retryAfterMs?: number;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(status: number, code: EventBusErrorCode, message: string, options: EventBusErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details ?? {};
    this.retryable =
      options.retryable ??
      (status === 429 || status === 503 || status === 0 || options.retryAfterMs !== undefined);
  }
}

/** 400: the request is malformed; the message says what to fix. */
export class InvalidRequestError extends EventBusError {}
/** 401: no key, or a key the bus does not know (revoked?). */
export class UnauthorizedError extends EventBusError {}
/** 403: the key's ACL does not allow this. */
export class ForbiddenError extends EventBusError {}
/** 404 `TOPIC_NOT_FOUND`, `SUBSCRIPTION_NOT_FOUND` or `NOT_FOUND`. */
export class NotFoundError extends EventBusError {}
export class TopicNotFoundError extends NotFoundError {}
export class SubscriptionNotFoundError extends NotFoundError {}
/** 409: a topic or subscription exists with another configuration, or an idempotent request is still in progress. */
export class ConflictError extends EventBusError {}
/** 413: the request or one event is over a limit. */
export class PayloadTooLargeError extends EventBusError {}
/** 422: the Idempotency-Key was used before for a different request. */
export class IdempotencyKeyReusedError extends EventBusError {}
/** 429 or 503: the bus cannot take the request now; retry after `retryAfterMs`. */
export class UnavailableError extends EventBusError {}

/** 410: the offset is no longer retained; `startOffset` is the partition's oldest. */
export class OffsetOutOfRangeError extends EventBusError {
  get startOffset(): number {
    return Number(this.details.startOffset);
  }
}

/** No answer came: the bus is down or unreachable, or the request timed out. Always retryable. */
export class NetworkError extends EventBusError {
  constructor(message: string, cause: unknown) {
    super(0, 'NETWORK_ERROR', message, { cause, retryable: true });
  }
}

/** `send()` after `close()`. */
export class ProducerClosedError extends EventBusError {
  constructor() {
    super(0, 'PRODUCER_CLOSED', 'The producer is closed; create a new one to send more events.', {
      retryable: false,
    });
  }
}

const BY_CODE: Partial<Record<ErrorCode, typeof EventBusError>> = {
  INVALID_REQUEST: InvalidRequestError,
  UNAUTHORIZED: UnauthorizedError,
  FORBIDDEN: ForbiddenError,
  TOPIC_NOT_FOUND: TopicNotFoundError,
  SUBSCRIPTION_NOT_FOUND: SubscriptionNotFoundError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  OFFSET_OUT_OF_RANGE: OffsetOutOfRangeError,
  PAYLOAD_TOO_LARGE: PayloadTooLargeError,
  IDEMPOTENCY_KEY_REUSED: IdempotencyKeyReusedError,
  UNAVAILABLE: UnavailableError,
};

/**
 * The one place an error answer becomes an {@link EventBusError}: the class
 * by the body's `code` (else by status), `Retry-After` in milliseconds.
 *
 * @example
 * errorFromAnswer(503, { error: { code: 'UNAVAILABLE', message: 'retry' } }, '2'); // UnavailableError, retryAfterMs 2000
 */
export function errorFromAnswer(status: number, body: unknown, retryAfter: string | null): EventBusError {
  const error = (body as { error?: Record<string, unknown> } | null)?.error;
  const code =
    typeof error?.code === 'string'
      ? error.code
      : status === 429 || status === 503
        ? 'UNAVAILABLE'
        : `HTTP_${status}`;
  const results = (body as { results?: unknown } | null)?.results;
  // A partly committed publish (503) names the error per event instead.
  const firstFailure = Array.isArray(results)
    ? (results as { error?: { message?: unknown } }[]).find((r) => r?.error)?.error?.message
    : undefined;
  const message =
    typeof error?.message === 'string'
      ? error.message
      : typeof firstFailure === 'string'
        ? firstFailure
        : `The bus answered ${status} without an error body.`;
  const { code: _code, message: _message, ...rest } = error ?? {};
  const details = results === undefined ? rest : { ...rest, results };
  const retryAfterMs = parseRetryAfter(retryAfter);
  const Class =
    (isErrorCode(code) ? BY_CODE[code] : undefined) ??
    (status === 429 || status === 503 ? UnavailableError : status === 404 ? NotFoundError : EventBusError);
  return new Class(status, code, message, { retryAfterMs, details });
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from now. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
