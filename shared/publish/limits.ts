import { InvalidRequestError, PayloadTooLargeError } from '../errors';
import type { OutgoingEvent } from './publisher';

/** What one publish request may carry. Configurable per deployment through the environment. */
export interface PublishLimits {
  readonly maxEvents: number;
  readonly maxValueBytes: number;
  readonly maxRequestBytes: number;
  readonly maxKeyBytes: number;
  readonly maxHeaders: number;
  /** Sum of header names and values of one event, in bytes. */
  readonly maxHeaderBytes: number;
}

export const DEFAULT_LIMITS: PublishLimits = {
  maxEvents: 1_000,
  maxValueBytes: 1024 * 1024,
  maxRequestBytes: 6 * 1000 * 1000,
  maxKeyBytes: 4 * 1024,
  maxHeaders: 64,
  maxHeaderBytes: 16 * 1024,
};

/** The environment variable of each limit: read by `limitsFromEnv`, set by the CDK construct. */
export const LIMIT_ENV: Readonly<Record<keyof PublishLimits, string>> = {
  maxEvents: 'EVENTBUS_MAX_EVENTS',
  maxValueBytes: 'EVENTBUS_MAX_VALUE_BYTES',
  maxRequestBytes: 'EVENTBUS_MAX_REQUEST_BYTES',
  maxKeyBytes: 'EVENTBUS_MAX_KEY_BYTES',
  maxHeaders: 'EVENTBUS_MAX_HEADERS',
  maxHeaderBytes: 'EVENTBUS_MAX_HEADER_BYTES',
};

/** A Lambda invocation (and so a Function URL request) carries at most 6 MB. */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

/** The limits with `overrides` applied; throws for values that are not positive integers or do not fit. */
export function resolveLimits(overrides: Partial<PublishLimits> = {}): PublishLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new Error(`${name} must be a positive integer, got ${value}.`);
  }
  if (limits.maxRequestBytes > MAX_REQUEST_BYTES) {
    throw new Error(`maxRequestBytes may be at most ${MAX_REQUEST_BYTES} (the Lambda payload limit).`);
  }
  if (limits.maxValueBytes > limits.maxRequestBytes)
    throw new Error('maxValueBytes may not exceed maxRequestBytes.');
  return limits;
}

export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): PublishLimits {
  const overrides: Partial<Record<keyof PublishLimits, number>> = {};
  for (const [name, variable] of Object.entries(LIMIT_ENV) as [keyof PublishLimits, string][]) {
    const raw = env[variable];
    if (raw !== undefined && raw !== '') overrides[name] = Number(raw);
  }
  return resolveLimits(overrides);
}

/** Checks parsed events against the limits: 413 for sizes, 400 for counts and shapes. */
export function checkLimits(events: readonly OutgoingEvent[], limits: PublishLimits): void {
  if (events.length === 0) throw new InvalidRequestError('The request holds no events.');
  if (events.length > limits.maxEvents) {
    throw new InvalidRequestError(
      `A request may hold at most ${limits.maxEvents} events; split it into several.`,
    );
  }
  events.forEach((event, i) => {
    if (event.value.length > limits.maxValueBytes) {
      throw new PayloadTooLargeError(
        `events[${i}].value is ${event.value.length} bytes; the limit is ${limits.maxValueBytes}.`,
      );
    }
    if (event.key !== null && Buffer.byteLength(event.key) > limits.maxKeyBytes) {
      throw new PayloadTooLargeError(`events[${i}].key is longer than ${limits.maxKeyBytes} bytes.`);
    }
    const names = Object.keys(event.headers);
    if (names.length > limits.maxHeaders) {
      throw new InvalidRequestError(
        `events[${i}] has ${names.length} headers; the limit is ${limits.maxHeaders}.`,
      );
    }
    let headerBytes = 0;
    for (const name of names) headerBytes += Buffer.byteLength(name) + Buffer.byteLength(event.headers[name]);
    if (headerBytes > limits.maxHeaderBytes) {
      throw new PayloadTooLargeError(
        `events[${i}] headers take ${headerBytes} bytes; the limit is ${limits.maxHeaderBytes}.`,
      );
    }
  });
}
