import { randomBytes } from 'node:crypto';
import type { NetworkPolicy } from '../config';
import { InvalidRequestError } from '../errors';
import { assertValidName } from '../names';
import { refusedTargetReason } from './network-policy';

/** Where a consumer group's events go. */
export type DeliveryTarget =
  | { readonly type: 'lambda'; readonly function: string }
  | { readonly type: 'webhook'; readonly url: string };

export type DeliveryGuarantee = 'at-least-once' | 'at-most-once';

/** A consumer group on one topic (docs/api.md, Subscriptions). */
export interface Subscription {
  readonly group: string;
  readonly topic: string;
  readonly target: DeliveryTarget;
  /** Events per delivery, at most. */
  readonly batchSize: number;
  /** Deliveries of one event before it is dead-lettered. */
  readonly maxAttempts: number;
  /** A failing event older than this (since it was appended) is dead-lettered without more attempts. */
  readonly maxAgeSeconds?: number;
  readonly startFrom: 'latest' | 'earliest';
  readonly delivery: DeliveryGuarantee;
  /** How long the target may take to answer (a webhook's response, a function's invocation). */
  readonly timeoutSeconds: number;
}

/** A subscription as stored: with its webhook signing secret, which is never logged nor shown after creation. */
export interface StoredSubscription extends Subscription {
  readonly secret?: string;
  readonly createdAt: string;
}

export const SUBSCRIPTION_DEFAULTS = {
  batchSize: 100,
  maxAttempts: 5,
  startFrom: 'latest',
  delivery: 'at-least-once',
} as const;

/** How long a target may take by default: a webhook should answer fast; a function works through a batch. */
export const DEFAULT_TIMEOUT_SECONDS = { webhook: 10, lambda: 60 } as const;

export const MAX_BATCH_SIZE = 1_000;
export const MAX_ATTEMPTS = 100;
export const MAX_TIMEOUT_SECONDS = 300;
/** Suffix of a group's dead-letter topic. */
export const DEAD_LETTER_SUFFIX = '.dlq';

const FIELDS = new Set([
  'topic',
  'target',
  'batchSize',
  'maxAttempts',
  'maxAgeSeconds',
  'startFrom',
  'delivery',
  'timeoutSeconds',
  'secret',
]);

/** The dead-letter topic of a group. */
export function deadLetterTopic(group: string): string {
  return `${group}${DEAD_LETTER_SUFFIX}`;
}

/** A new Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * A `PUT /subscriptions/{group}` body checked and completed with defaults;
 * INVALID_REQUEST saying what to fix otherwise. The optional `secret` lets a
 * client that lost the creation answer set the secret it will verify with.
 */
export function parseSubscription(
  group: string,
  body: unknown,
  policy: NetworkPolicy,
): { subscription: Subscription; secret?: string } {
  assertValidName('group', group);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError(
      'The body must be an object: {"topic", "target": {"type": "lambda", "function"} | {"type": "webhook", "url"}, …}.',
    );
  }
  const input = body as Record<string, unknown>;
  const unknown = Object.keys(input).filter((name) => !FIELDS.has(name));
  if (unknown.length > 0) {
    throw new InvalidRequestError(`Unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')}.`);
  }
  if (typeof input.topic !== 'string') throw new InvalidRequestError('"topic" must be a topic name.');
  assertValidName('topic', input.topic);
  const target = parseTarget(input.target, policy);
  const subscription: Subscription = {
    group,
    topic: input.topic,
    target,
    batchSize: intField(input, 'batchSize', 1, MAX_BATCH_SIZE) ?? SUBSCRIPTION_DEFAULTS.batchSize,
    maxAttempts: intField(input, 'maxAttempts', 1, MAX_ATTEMPTS) ?? SUBSCRIPTION_DEFAULTS.maxAttempts,
    ...optional('maxAgeSeconds', intField(input, 'maxAgeSeconds', 1, 366 * 24 * 3600)),
    startFrom: oneOf(input, 'startFrom', ['latest', 'earliest']) ?? SUBSCRIPTION_DEFAULTS.startFrom,
    delivery: oneOf(input, 'delivery', ['at-least-once', 'at-most-once']) ?? SUBSCRIPTION_DEFAULTS.delivery,
    timeoutSeconds:
      intField(input, 'timeoutSeconds', 1, MAX_TIMEOUT_SECONDS) ?? DEFAULT_TIMEOUT_SECONDS[target.type],
  };
  if (input.secret === undefined) return { subscription };
  if (target.type !== 'webhook') throw new InvalidRequestError('"secret" is for webhook targets only.');
  if (typeof input.secret !== 'string' || !/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/.test(input.secret)) {
    throw new InvalidRequestError('"secret" must be "whsec_" followed by at least 24 bytes in base64.');
  }
  return { subscription, secret: input.secret };
}

function parseTarget(raw: unknown, policy: NetworkPolicy): DeliveryTarget {
  if (typeof raw !== 'object' || raw === null) {
    throw new InvalidRequestError(
      '"target" must be {"type": "lambda", "function": name-or-ARN} or {"type": "webhook", "url": "https://…"}.',
    );
  }
  const target = raw as Record<string, unknown>;
  if (target.type === 'lambda') {
    const name = target.function;
    // A function name, or a (possibly qualified) function ARN, as the Invoke API accepts them.
    if (
      typeof name !== 'string' ||
      !/^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,140}(:[A-Za-z0-9$_-]{1,128})?$/.test(
        name,
      ) ||
      Object.keys(target).length !== 2
    ) {
      throw new InvalidRequestError(
        'A lambda target is {"type": "lambda", "function": a function name or ARN}, nothing else.',
      );
    }
    return { type: 'lambda', function: name };
  }
  if (target.type === 'webhook') {
    if (typeof target.url !== 'string' || Object.keys(target).length !== 2) {
      throw new InvalidRequestError(
        'A webhook target is {"type": "webhook", "url": "https://…"}, nothing else.',
      );
    }
    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      throw new InvalidRequestError(`"target.url" is not a URL: "${target.url.slice(0, 200)}".`);
    }
    const refused = refusedTargetReason(url, policy);
    if (refused) throw new InvalidRequestError(`"target.url" is refused: ${refused}.`);
    return { type: 'webhook', url: url.toString() };
  }
  throw new InvalidRequestError('"target.type" must be "lambda" or "webhook".');
}

function intField(
  input: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const value = input[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidRequestError(`"${name}" must be an integer from ${min} to ${max}.`);
  }
  return value;
}

function oneOf<T extends string>(
  input: Record<string, unknown>,
  name: string,
  values: readonly T[],
): T | undefined {
  const value = input[name];
  if (value === undefined) return undefined;
  if (!values.includes(value as T)) {
    throw new InvalidRequestError(`"${name}" must be one of ${values.map((v) => `"${v}"`).join(', ')}.`);
  }
  return value as T;
}

function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}

/** Whether two subscriptions deliver the same way (a repeated PUT with the same body answers 200). */
export function sameSubscription(a: Subscription, b: Subscription): boolean {
  return (
    a.topic === b.topic &&
    JSON.stringify(a.target) === JSON.stringify(b.target) &&
    a.batchSize === b.batchSize &&
    a.maxAttempts === b.maxAttempts &&
    a.maxAgeSeconds === b.maxAgeSeconds &&
    a.startFrom === b.startFrom &&
    a.delivery === b.delivery &&
    a.timeoutSeconds === b.timeoutSeconds
  );
}

/** A subscription as the API shows it: never its secret. */
export function subscriptionView(subscription: Subscription): Subscription {
  const { group, topic, target, batchSize, maxAttempts, maxAgeSeconds, startFrom, delivery, timeoutSeconds } =
    subscription;
  return {
    group,
    topic,
    target,
    batchSize,
    maxAttempts,
    ...optional('maxAgeSeconds', maxAgeSeconds),
    startFrom,
    delivery,
    timeoutSeconds,
  };
}
