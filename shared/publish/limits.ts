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

export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): PublishLimits {
  const pick = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < 1)
      throw new Error(`${name} must be a positive integer, got "${raw}".`);
    return value;
  };
  return {
    maxEvents: pick('EVENTBUS_MAX_EVENTS', DEFAULT_LIMITS.maxEvents),
    maxValueBytes: pick('EVENTBUS_MAX_VALUE_BYTES', DEFAULT_LIMITS.maxValueBytes),
    maxRequestBytes: pick('EVENTBUS_MAX_REQUEST_BYTES', DEFAULT_LIMITS.maxRequestBytes),
    maxKeyBytes: pick('EVENTBUS_MAX_KEY_BYTES', DEFAULT_LIMITS.maxKeyBytes),
    maxHeaders: pick('EVENTBUS_MAX_HEADERS', DEFAULT_LIMITS.maxHeaders),
    maxHeaderBytes: pick('EVENTBUS_MAX_HEADER_BYTES', DEFAULT_LIMITS.maxHeaderBytes),
  };
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
