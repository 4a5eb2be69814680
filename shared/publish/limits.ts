import {
  LAMBDA_PAYLOAD_BYTES,
  PUBLISH_LIMIT_SETTINGS,
  SETTINGS,
  type SettingName,
  settingFromEnv,
} from '../config';
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

/** The settings each limit is read from (shared/config.ts owns their names, defaults and parsing). */
const LIMIT_SETTINGS = PUBLISH_LIMIT_SETTINGS satisfies readonly (keyof PublishLimits)[];

export const DEFAULT_LIMITS: PublishLimits = Object.fromEntries(
  LIMIT_SETTINGS.map((name) => [name, SETTINGS[name].default]),
) as unknown as PublishLimits;

/** The limits with `overrides` applied; throws for values that are not positive integers or do not fit. */
export function resolveLimits(overrides: Partial<PublishLimits> = {}): PublishLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new Error(`${name} must be a positive integer, got ${value}.`);
  }
  if (limits.maxRequestBytes > LAMBDA_PAYLOAD_BYTES) {
    throw new Error(`maxRequestBytes may be at most ${LAMBDA_PAYLOAD_BYTES} (the Lambda payload limit).`);
  }
  if (limits.maxValueBytes > limits.maxRequestBytes)
    throw new Error('maxValueBytes may not exceed maxRequestBytes.');
  return limits;
}

export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): PublishLimits {
  return resolveLimits(
    Object.fromEntries(
      LIMIT_SETTINGS.map((name) => [name, settingFromEnv(name, env)]),
    ) as unknown as PublishLimits,
  );
}

/** The settings of the limits, for the construct to pass to the API function. */
export function limitSettings(limits: PublishLimits): Partial<Record<SettingName, number>> {
  return Object.fromEntries(LIMIT_SETTINGS.map((name) => [name, limits[name]]));
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
