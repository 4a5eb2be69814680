/**
 * The API's error codes (docs/api.md, "Errors"): the one list the bus
 * answers with and the client recognises. Codes are stable: the API adds
 * codes, never changes one.
 */
export const ERROR_CODES = [
  'INVALID_REQUEST',
  // A published value that its topic's schema refuses (with index, pointer and rule).
  'SCHEMA_VIOLATION',
  // A topic target that would route events back into the topic they came from.
  'ROUTE_CYCLE',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'TOPIC_NOT_FOUND',
  'SUBSCRIPTION_NOT_FOUND',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'CONFLICT',
  // A new schema version that breaks the topic's compatibility mode (with the reasons).
  'SCHEMA_INCOMPATIBLE',
  'OFFSET_OUT_OF_RANGE',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'IDEMPOTENCY_KEY_REUSED',
  'UNAVAILABLE',
  'INTERNAL_ERROR',
  // A 500 like INTERNAL_ERROR, named so an operator can tell a damaged segment from a bug.
  'CORRUPT_SEGMENT',
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Whether `code` is one of the API's codes.
 *
 * @example
 * isErrorCode('TOPIC_NOT_FOUND'); // true
 */
export function isErrorCode(code: unknown): code is ErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(code);
}
