import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { NetworkPolicy } from '../config';
import { InvalidRequestError } from '../errors';
import { GroupName, TopicName } from '../names';
import { DEAD_LETTER_SUFFIX } from '../registry/topic';
import { compileEventPattern, EventPatternError } from '../routing/event-pattern';
import { compileTransform, TransformError } from '../routing/transform';
import { integer, validate } from '../validation';
import { refusedTargetReason } from './network-policy';

/** Where a consumer group's events go. */
export type DeliveryTarget =
  | { readonly type: 'lambda'; readonly function: string }
  | { readonly type: 'webhook'; readonly url: string }
  | TopicTarget;

/** Another topic of the bus, appended to exactly once per source event (docs/adr/0020). */
export interface TopicTarget {
  readonly type: 'topic';
  readonly topic: string;
  /** A JSONata expression over the transform's input whose result keys the appended event. */
  readonly key?: string;
}

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
  /** An EventBridge event pattern over `{key, value, headers}`: only matching events are delivered. */
  readonly filter?: Readonly<Record<string, unknown>>;
  /** A JSONata expression whose result is the value the target receives. */
  readonly transform?: { readonly jsonata: string };
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
export const DEFAULT_TIMEOUT_SECONDS = { webhook: 10, lambda: 60, topic: 30 } as const;

export const MAX_BATCH_SIZE = 1_000;
export const MAX_ATTEMPTS = 100;
export const MAX_TIMEOUT_SECONDS = 300;

/** The dead-letter topic of a group (docs/adr/0014: the group's own). */
export function deadLetterTopic(group: string): string {
  return `${group}${DEAD_LETTER_SUFFIX}`;
}

/** A new Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * A function name (at most 64 characters) or its ARN, either with an
 * optional version or alias (at most 128), as the Invoke API accepts them;
 * 170 characters in all, Lambda's own bound.
 */
const FUNCTION_NAME =
  /^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$/;
const MAX_FUNCTION_LENGTH = 170;
/** A webhook URL's length at most: what most HTTP infrastructure accepts. */
export const MAX_URL_LENGTH = 2_048;
/** `whsec_` and 24 to 192 bytes in base64: a Standard Webhooks secret, bounded. */
const SECRET = /^whsec_[A-Za-z0-9+/]{32,256}={0,2}$/;
const SECRET_RULE = '"secret" must be "whsec_" followed by 24 to 192 bytes in base64.';
const LAMBDA_TARGET_RULE =
  'A lambda target is {"type": "lambda", "function": a function name or ARN}, nothing else.';
const TARGET_RULE =
  '"target" must be {"type": "lambda", "function": name-or-ARN}, {"type": "webhook", "url": "https://…"} or {"type": "topic", "topic": name}.';
/** The longest `maxAgeSeconds`: a year and a day. */
export const MAX_AGE_SECONDS = 366 * 24 * 3600;

/** A JSONata expression, compiled here so one that does not compile is refused where it is declared. */
function jsonata(field: string) {
  return z
    .string({ error: `"${field}" must be a JSONata expression (a string).` })
    .superRefine((expression, context) => {
      try {
        compileTransform(expression, field);
      } catch (error) {
        if (!(error instanceof TransformError)) throw error;
        context.addIssue({ code: 'custom', message: error.message });
      }
    });
}

/** A subscription's target, as requests give it and the API shows it. */
export const Target = z.discriminatedUnion(
  'type',
  [
    z
      .strictObject(
        {
          type: z.literal('lambda'),
          function: z
            .string({ error: LAMBDA_TARGET_RULE })
            .max(MAX_FUNCTION_LENGTH, { error: LAMBDA_TARGET_RULE })
            .regex(FUNCTION_NAME, { error: LAMBDA_TARGET_RULE })
            .meta({ description: 'A function name or (qualified) ARN.' }),
        },
        { error: LAMBDA_TARGET_RULE },
      )
      .meta({ id: 'LambdaTarget' }),
    z
      .strictObject(
        {
          type: z.literal('webhook'),
          url: z
            .string()
            .max(MAX_URL_LENGTH, {
              error: `"target.url" must be a URL of at most ${MAX_URL_LENGTH} characters.`,
            })
            .meta({ description: 'https; no private addresses.' }),
        },
        { error: 'A webhook target is {"type": "webhook", "url": "https://…"}, nothing else.' },
      )
      .meta({ id: 'WebhookTarget' }),
    z
      .strictObject(
        {
          type: z.literal('topic'),
          topic: TopicName,
          key: jsonata('target.key').optional().meta({
            description: "A JSONata expression over the transform's input: the appended event's key.",
          }),
        },
        {
          error:
            'A topic target is {"type": "topic", "topic": name, "key"?: "<JSONata expression>"}, nothing else.',
        },
      )
      .meta({ id: 'TopicTarget' }),
  ],
  {
    error: (issue) =>
      typeof issue.input === 'object' && issue.input !== null
        ? '"target.type" must be "lambda", "webhook" or "topic".'
        : TARGET_RULE,
  },
);

function oneOf<const T extends readonly [string, ...string[]]>(field: string, values: T) {
  return z.enum(values, { error: `"${field}" must be one of ${values.map((v) => `"${v}"`).join(', ')}.` });
}

/** An event pattern, compiled here so a wrong one is refused where it is declared, saying where. */
const Filter = z
  .record(z.string(), z.unknown(), { error: '"filter" must be an EventBridge event pattern: a JSON object.' })
  .superRefine((pattern, context) => {
    try {
      compileEventPattern(pattern);
    } catch (error) {
      if (!(error instanceof EventPatternError)) throw error;
      context.addIssue({ code: 'custom', message: error.message });
    }
  })
  .meta({
    description:
      'An EventBridge event pattern over {"key", "value", "headers"}: only matching events are delivered; the others are committed past.',
    example: { headers: { ce_type: ['order.created'] }, value: { total: [{ numeric: ['>', 100] }] } },
  });

/** A JSONata transform. */
const Transform = z
  .strictObject(
    {
      jsonata: jsonata('transform.jsonata'),
    },
    { error: '"transform" must be {"jsonata": "<expression>"}.' },
  )
  .meta({
    description:
      'A JSONata expression over {"key", "value", "headers", "topic", "partition", "offset", "timestamp"}: its result is the value the target receives.',
  });

const START_FROM = ['latest', 'earliest'] as const;
const DELIVERY = ['at-least-once', 'at-most-once'] as const;

/**
 * What `PUT /subscriptions/{group}` takes (and the construct's `subscribe`
 * declares): each member's rule, once. The optional `secret` lets a client
 * that lost the creation answer set the secret it will verify with.
 */
export const SubscriptionBody = z
  .strictObject(
    {
      topic: TopicName,
      target: Target,
      batchSize: integer(1, MAX_BATCH_SIZE)
        .optional()
        .meta({ description: 'Events per delivery; default 100.' }),
      maxAttempts: integer(1, MAX_ATTEMPTS)
        .optional()
        .meta({ description: 'Deliveries of an event before it is dead-lettered; default 5.' }),
      maxAgeSeconds: integer(1, MAX_AGE_SECONDS)
        .optional()
        .meta({ description: 'A failing event older than this is dead-lettered at once.' }),
      startFrom: oneOf('startFrom', START_FROM).optional().meta({ description: 'Default "latest".' }),
      delivery: oneOf('delivery', DELIVERY).optional().meta({ description: 'Default "at-least-once".' }),
      timeoutSeconds: integer(1, MAX_TIMEOUT_SECONDS)
        .optional()
        .meta({ description: 'How long the target may take; default 10 (webhook) or 60 (lambda).' }),
      secret: z
        .string({ error: SECRET_RULE })
        .regex(SECRET, { error: SECRET_RULE })
        .optional()
        .meta({ description: 'Webhooks only: the signing secret to use instead of a new one.' }),
      filter: Filter.optional(),
      transform: Transform.optional(),
    },
    {
      error:
        'The body must be an object: {"topic", "target": {"type": "lambda", "function"} | {"type": "webhook", "url"}, …}.',
    },
  )
  .meta({
    id: 'SubscriptionRequest',
    example: { topic: 'orders', target: { type: 'lambda', function: 'billing' }, startFrom: 'earliest' },
  });

/** A subscription as the API shows it: never its secret. */
export const SubscriptionSchema = z
  .object({
    group: GroupName,
    topic: TopicName,
    target: Target,
    batchSize: z.int(),
    maxAttempts: z.int(),
    maxAgeSeconds: z.int().optional(),
    startFrom: z.enum(START_FROM),
    delivery: z.enum(DELIVERY),
    timeoutSeconds: z.int(),
    filter: z.record(z.string(), z.unknown()).optional(),
    transform: z.object({ jsonata: z.string() }).optional(),
  })
  .meta({ id: 'Subscription' });

/**
 * A `PUT /subscriptions/{group}` body checked and completed with defaults;
 * INVALID_REQUEST saying what to fix otherwise. A webhook's URL is checked
 * against the deployment's network policy.
 */
export function parseSubscription(
  group: string,
  body: unknown,
  policy: NetworkPolicy,
): { subscription: Subscription; secret?: string } {
  validate(GroupName, group, 'path');
  const input = validate(SubscriptionBody, body);
  const target: DeliveryTarget =
    input.target.type === 'webhook'
      ? { type: 'webhook', url: webhookUrl(input.target.url, policy) }
      : input.target;
  const subscription: Subscription = {
    group,
    topic: input.topic,
    target,
    batchSize: input.batchSize ?? SUBSCRIPTION_DEFAULTS.batchSize,
    maxAttempts: input.maxAttempts ?? SUBSCRIPTION_DEFAULTS.maxAttempts,
    ...optional('maxAgeSeconds', input.maxAgeSeconds),
    startFrom: input.startFrom ?? SUBSCRIPTION_DEFAULTS.startFrom,
    delivery: input.delivery ?? SUBSCRIPTION_DEFAULTS.delivery,
    timeoutSeconds: input.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS[target.type],
    ...optional('filter', input.filter),
    ...optional('transform', input.transform),
  };
  if (target.type === 'topic' && subscription.delivery === 'at-most-once') {
    throw new InvalidRequestError(
      'A topic target delivers exactly once: "delivery" cannot be "at-most-once".',
    );
  }
  if (input.secret === undefined) return { subscription };
  if (target.type !== 'webhook') throw new InvalidRequestError('"secret" is for webhook targets only.');
  return { subscription, secret: input.secret };
}

/** A webhook URL the deployment may call, normalised; INVALID_REQUEST saying why not otherwise. */
export function webhookUrl(raw: string, policy: NetworkPolicy): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidRequestError(`"target.url" is not a URL: "${raw.slice(0, 200)}".`);
  }
  const refused = refusedTargetReason(url, policy);
  if (refused) throw new InvalidRequestError(`"target.url" is refused: ${refused}.`);
  return url.toString();
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
    a.timeoutSeconds === b.timeoutSeconds &&
    JSON.stringify(a.filter) === JSON.stringify(b.filter) &&
    a.transform?.jsonata === b.transform?.jsonata
  );
}

/** A subscription as the API shows it: never its secret. */
export function subscriptionView(subscription: Subscription): Subscription {
  const {
    group,
    topic,
    target,
    batchSize,
    maxAttempts,
    maxAgeSeconds,
    startFrom,
    delivery,
    timeoutSeconds,
    filter,
    transform,
  } = subscription;
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
    ...optional('filter', filter),
    ...optional('transform', transform),
  };
}
