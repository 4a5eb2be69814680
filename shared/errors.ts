import type { ErrorCode } from '../protocol';

/**
 * The bus's errors. Each carries the API's stable `code`, the HTTP status a
 * handler answers with, and whether retrying the same request can help.
 * Messages of 4xx errors are shown to clients and say what to fix; 5xx
 * messages are logged, never shown.
 */
export class BusError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Set when the same request may succeed later: the answer's `Retry-After`. */
  readonly retryAfterSeconds?: number;
  /** Extra fields merged into the error body (for example `startOffset`). */
  readonly details?: Record<string, unknown>;

  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; retryAfterSeconds?: number; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }

  /** Whether retrying the same request can help. */
  get retryable(): boolean {
    return this.retryAfterSeconds !== undefined;
  }

  /** Whether a client may see the message: 4xx yes, 5xx never. */
  get expose(): boolean {
    return this.status < 500;
  }
}

export class InvalidRequestError extends BusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(400, 'INVALID_REQUEST', message, options);
  }
}

export class UnauthorizedError extends BusError {
  constructor(message = 'Send an API key as "Authorization: Bearer <key>".') {
    super(401, 'UNAUTHORIZED', message);
  }
}

export class ForbiddenError extends BusError {
  constructor(message: string) {
    super(403, 'FORBIDDEN', message);
  }
}

export class TopicNotFoundError extends BusError {
  constructor(readonly topic: string) {
    super(404, 'TOPIC_NOT_FOUND', `Topic "${topic}" does not exist; create it with PUT /topics/${topic}.`);
  }
}

export class NotFoundError extends BusError {
  constructor(message: string, code: ErrorCode = 'NOT_FOUND') {
    super(404, code, message);
  }
}

export class ConflictError extends BusError {
  constructor(
    message: string,
    options: { details?: Record<string, unknown>; retryAfterSeconds?: number } = {},
  ) {
    super(409, 'CONFLICT', message, options);
  }
}

export class OffsetOutOfRangeError extends BusError {
  constructor(
    readonly offset: number,
    readonly startOffset: number,
  ) {
    super(
      410,
      'OFFSET_OUT_OF_RANGE',
      `Offset ${offset} is no longer retained; the partition starts at ${startOffset}.`,
      { details: { startOffset } },
    );
  }
}

export class PayloadTooLargeError extends BusError {
  constructor(message: string) {
    super(413, 'PAYLOAD_TOO_LARGE', message);
  }
}

export class UnsupportedMediaTypeError extends BusError {
  constructor(message: string) {
    super(415, 'UNSUPPORTED_MEDIA_TYPE', message);
  }
}

/** The bus cannot take the request now; the same request may succeed after `retryAfterSeconds`. */
export class UnavailableError extends BusError {
  constructor(
    message: string,
    retryAfterSeconds = 1,
    options: { cause?: unknown; status?: 429 | 503; code?: ErrorCode } = {},
  ) {
    super(options.status ?? 503, options.code ?? 'UNAVAILABLE', message, {
      cause: options.cause,
      retryAfterSeconds,
    });
  }
}

/** A stored segment failed its checksum or could not be parsed: never returned as data. */
export class CorruptSegmentError extends BusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(500, 'CORRUPT_SEGMENT', message, options);
  }
}

const OUTAGE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** DynamoDB's refusals for capacity: the request was not applied. */
const THROTTLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
]);

/**
 * Whether a storage request was refused for capacity (throttled): it was
 * not applied, so a retry cannot find it done.
 *
 * @example
 * if (!isStorageThrottle(error)) unknownAt = head; // the write may have landed
 */
export function isStorageThrottle(error: unknown): boolean {
  return THROTTLE_NAMES.has((error as { name?: string } | undefined)?.name ?? '');
}

/**
 * Whether a storage request was refused as the client's fault and the SDK
 * would not retry it (malformed, access denied): it fails the same way every
 * time, so no retry can help.
 *
 * @example
 * if (isPermanentRefusal(error)) throw error;
 */
export function isPermanentRefusal(error: unknown): boolean {
  const { $fault, $retryable } = (error ?? {}) as { $fault?: string; $retryable?: unknown };
  return $fault === 'client' && !$retryable;
}

const OUTAGE_NAMES = new Set([
  'TimeoutError',
  'NetworkingError',
  ...THROTTLE_NAMES,
  'InternalServerError',
  'ServiceUnavailable',
  'SlowDown',
]);

/**
 * The one place SDK failures become the bus's own: a storage service that
 * cannot be reached, is throttling or fails on its side (connection refused
 * or reset, a timeout, a 5xx) is an outage the client should retry —
 * UNAVAILABLE (503) with `Retry-After` — never a 500. Undefined for anything
 * else (a bug stays a 500).
 */
export function storageOutage(error: unknown): UnavailableError | undefined {
  for (
    let cause = error, depth = 0;
    cause && depth < 5;
    cause = (cause as { cause?: unknown }).cause, depth++
  ) {
    const failure = cause as {
      name?: string;
      code?: string;
      message?: string;
      $metadata?: { httpStatusCode?: number };
      errors?: unknown[];
    };
    const nested = Array.isArray(failure.errors) ? failure.errors : [];
    // The SDK wraps what is not an Error of its own realm as "AWS SDK error wrapper for <error>", dropping its code.
    const wrapped = /^AWS SDK error wrapper for .*\b(E[A-Z_]+)\b/.exec(failure.message ?? '')?.[1];
    if (
      OUTAGE_NAMES.has(failure.name ?? '') ||
      OUTAGE_CODES.has(wrapped ?? '') ||
      OUTAGE_CODES.has(failure.code ?? '') ||
      nested.some((e) => OUTAGE_CODES.has((e as { code?: string }).code ?? '')) ||
      (failure.$metadata?.httpStatusCode ?? 0) >= 500
    ) {
      return new UnavailableError('The bus cannot reach its storage right now; retry shortly.', 2, {
        cause: error,
      });
    }
  }
  return undefined;
}
