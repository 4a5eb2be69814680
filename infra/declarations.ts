import { type Duration, Token } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { MIN_RETENTION_HOURS } from '../shared/config';
import { STRICT_NETWORK_POLICY } from '../shared/delivery/network-policy';
import {
  MAX_AGE_SECONDS,
  MAX_ATTEMPTS,
  MAX_BATCH_SIZE,
  MAX_TIMEOUT_SECONDS,
  parseSubscription,
  webhookUrl,
} from '../shared/delivery/subscription';
import { GroupName, TopicName } from '../shared/names';
import { isDeadLetterName, MAX_PARTITIONS } from '../shared/registry/topic';
import { findRouteCycle, RouteCycleError } from '../shared/routing/route-cycle';
import { COMPATIBILITY_MODES, type CompatibilityMode } from '../shared/schemas/compatibility';
import { assertUsableSchema } from '../shared/schemas/schema-validator';
import { integerRule, validate } from '../shared/validation';

/*
 * The types users of the construct see are written out here rather than
 * imported from shared/: the @eventbus/cdk package ships this folder's
 * declarations alone (packages/build.ts). Where the domain has the same
 * type, an assignment below makes the compiler hold the two together.
 */

/** How a topic's schema may change from version to version: Confluent's modes (docs/api.md, Schemas). */
export type SchemaCompatibility =
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE'
  | 'NONE';

/** A JSON Schema (draft 2020-12) object: what `PUT /topics/{topic}/schema` takes. */
export interface JsonSchemaObject {
  readonly [keyword: string]: unknown;
}

/** Whether a delivered event may be delivered again after a failure, or at most once. */
export type DeliveryGuarantee = 'at-least-once' | 'at-most-once';

/** A topic declared with `EventBus.addTopic`. */
export interface TopicOptions {
  /**
   * Partitions: events with the same key keep their order within one. Integer in 1..256; it cannot change
   * once deployed (keys would move to other partitions).
   */
  readonly partitions: number;
  /**
   * How long events are kept: at least 24 hours, at most the bus's `maxRetentionDays`, in whole hours.
   * @default Duration.days(7)
   */
  readonly retention?: Duration;
  /**
   * Whether removing the declaration from the app also removes the topic from the registry (its events then
   * expire as retention says).
   * @default false - the topic stays, with its events
   */
  readonly removeOnDelete?: boolean;
  /**
   * The topic's JSON Schema (draft 2020-12; local `$ref`s only): every published value must satisfy it.
   * Registered at deploy time as the topic's next version when it changed; a change its compatibility mode
   * refuses fails the deployment with the reasons. Checked at synthesis with the validator the API uses.
   * @default - no schema declared (one registered through the API stays)
   */
  readonly schema?: JsonSchemaObject;
  /**
   * How the schema may change from version to version, set with it.
   * @default - the topic's current mode: 'BACKWARD' until one is set
   */
  readonly compatibility?: SchemaCompatibility;
}

/** A topic of the bus, as `addTopic` returns it. */
export interface BusTopic {
  readonly name: string;
  readonly partitions: number;
  readonly retentionHours: number;
}

/** A consumer group declared with `EventBus.subscribe`. */
export interface SubscriptionOptions {
  /** The topic it reads: one declared with `addTopic` on the same bus. */
  readonly topic: BusTopic | string;
  /**
   * Where events go: a Lambda function (invoked with the delivery batch; the bus is granted invocation of
   * exactly this function), an HTTPS webhook URL (signed the Standard Webhooks way), or another topic of this
   * bus (`addTopic`'s result): a route, appending each event there exactly once, under that topic's schema.
   */
  readonly target: lambda.IFunction | string | BusTopic;
  /**
   * A topic target's key: a JSONata expression over `{key, value, headers, topic, partition, offset,
   * timestamp}` whose result (a string, a number or null) keys the event appended, and so picks its partition.
   * @default - the source event's key
   */
  readonly targetKey?: string;
  /**
   * An EventBridge event pattern over `{key, value, headers}`: only matching events are delivered, the others
   * committed past (docs/api.md, Routing).
   * @default - every event
   */
  readonly filter?: { readonly [field: string]: unknown };
  /**
   * A JSONata expression over `{key, value, headers, topic, partition, offset, timestamp}`: its result is the
   * value the target receives.
   * @default - the event's value as published
   */
  readonly transform?: { readonly jsonata: string };
  /** Events per delivery, at most: 1..1000. @default 100 */
  readonly batchSize?: number;
  /** Deliveries of one event before it is dead-lettered: 1..100. @default 5 */
  readonly maxAttempts?: number;
  /** A failing event older than this is dead-lettered without more attempts. @default - no age limit */
  readonly maxAge?: Duration;
  /** Where a new group starts: `latest` (events from now on) or `earliest` (all retained). @default 'latest' */
  readonly startFrom?: 'latest' | 'earliest';
  /** @default 'at-least-once' */
  readonly delivery?: DeliveryGuarantee;
  /** How long the target may take: 1..300 s. @default - 60 s for a function, 10 s for a webhook */
  readonly timeout?: Duration;
  /**
   * A webhook's signing secret: `whsec_…` or base64 text (the bus signs with `whsec_` and it).
   * @default - a generated secret (see `BusSubscription.signingSecret`)
   */
  readonly signingSecret?: secretsmanager.ISecret;
  /**
   * Whether removing the declaration from the app deletes the subscription.
   * @default false - the group stays, with its committed offsets
   */
  readonly removeOnDelete?: boolean;
}

/** A consumer group, as `subscribe` returns it. */
export interface BusSubscription {
  readonly group: string;
  readonly topic: string;
  /** A webhook's signing secret: verify deliveries with `whsec_` followed by its value, unless it starts so. */
  readonly signingSecret?: secretsmanager.ISecret;
}

/*
 * The construct checks a declaration at synthesis with the domain's rules
 * (the bounds and schemas the API and the registrar use), in the words of
 * its own options: `retention`, `timeout` and `maxAge` are Durations here.
 */

/** A number checked at synthesis unless it is a token, which only the deployment resolves. */
function checkInteger(what: string, value: number, min: number, max: number): void {
  if (Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${integerRule(what, min, max)}, got ${value}.`);
  }
}

function checkName(kind: 'topic' | 'group', name: string): void {
  if (Token.isUnresolved(name)) throw new Error(`A ${kind} name must be known at synthesis, not a token.`);
  validate(kind === 'topic' ? TopicName : GroupName, name, 'path');
}

/** The topic `addTopic` declares; throws for invalid options, saying what to change. */
export function topicDeclaration(
  name: string,
  options: TopicOptions,
  maxRetentionDays: number,
): { topic: BusTopic; schema?: JsonSchemaObject; compatibility?: SchemaCompatibility } {
  checkName('topic', name);
  if (isDeadLetterName(name)) {
    throw new Error(
      `Topic "${name}": names ending ".dlq" are the bus's dead-letter topics, created with their group; choose another name.`,
    );
  }
  checkInteger(`Topic "${name}": partitions`, options.partitions, 1, MAX_PARTITIONS);
  const retentionHours = options.retention?.toHours() ?? 7 * 24;
  checkInteger(
    `Topic "${name}": retention in hours`,
    retentionHours,
    MIN_RETENTION_HOURS,
    maxRetentionDays * 24,
  );
  const compatibility: CompatibilityMode | undefined = options.compatibility;
  if (compatibility !== undefined && !COMPATIBILITY_MODES.includes(compatibility)) {
    throw new Error(
      `Topic "${name}": compatibility must be one of ${COMPATIBILITY_MODES.join(', ')}, got "${compatibility}".`,
    );
  }
  if (compatibility !== undefined && options.schema === undefined) {
    throw new Error(`Topic "${name}": compatibility is set with a schema; declare the schema too.`);
  }
  if (options.schema !== undefined) {
    try {
      assertUsableSchema(options.schema);
    } catch (error) {
      throw new Error(`Topic "${name}": ${(error as Error).message}`);
    }
  }
  return {
    topic: { name, partitions: options.partitions, retentionHours },
    ...(options.schema === undefined ? {} : { schema: options.schema }),
    ...(compatibility === undefined ? {} : { compatibility }),
  };
}

/** The `PUT /subscriptions/{group}` body `subscribe` declares, its target as the function's ARN, the URL or the topic. */
export function subscriptionBody(
  group: string,
  options: SubscriptionOptions,
  topics: ReadonlyMap<string, BusTopic>,
  routes: readonly { readonly from: string; readonly to: string }[],
  functionArn: (fn: lambda.IFunction) => string,
): Record<string, unknown> {
  checkName('group', group);
  const topic = typeof options.topic === 'string' ? options.topic : options.topic.name;
  if (!topics.has(topic)) {
    throw new Error(
      `Subscription "${group}": topic "${topic}" is not declared on this bus; declare it first with bus.addTopic('${topic}', …).`,
    );
  }
  const target = targetOf(group, options, topics, functionArn);
  if (options.targetKey !== undefined && target.type !== 'topic')
    throw new Error(`Subscription "${group}": targetKey is for topic targets only.`);
  if (options.signingSecret && target.type !== 'webhook')
    throw new Error(`Subscription "${group}": signingSecret is for webhooks only.`);
  if (options.batchSize !== undefined)
    checkInteger(`Subscription "${group}": batchSize`, options.batchSize, 1, MAX_BATCH_SIZE);
  if (options.maxAttempts !== undefined)
    checkInteger(`Subscription "${group}": maxAttempts`, options.maxAttempts, 1, MAX_ATTEMPTS);
  const maxAgeSeconds = options.maxAge?.toSeconds();
  if (maxAgeSeconds !== undefined)
    checkInteger(`Subscription "${group}": maxAge in seconds`, maxAgeSeconds, 1, MAX_AGE_SECONDS);
  const timeoutSeconds = options.timeout?.toSeconds();
  if (timeoutSeconds !== undefined)
    checkInteger(`Subscription "${group}": timeout in seconds`, timeoutSeconds, 1, MAX_TIMEOUT_SECONDS);
  const routing = {
    topic,
    // Lambda and webhook targets may be tokens the deployment resolves; their routing is checked all the same.
    target: target.type === 'topic' ? target : { type: 'lambda', function: 'checked-at-deployment' },
    delivery: options.delivery,
    filter: options.filter,
    transform: options.transform,
  };
  try {
    // The API's own parse: the event pattern, the JSONata expressions, at-most-once into a topic.
    parseSubscription(group, defined(routing), STRICT_NETWORK_POLICY);
  } catch (error) {
    throw new Error(`Subscription "${group}": ${(error as Error).message}`);
  }
  if (target.type === 'topic') {
    const cycle = findRouteCycle(routes, { from: topic, to: target.topic });
    if (cycle) throw new Error(`Subscription "${group}": ${new RouteCycleError(cycle).message}`);
  }
  return defined({
    topic,
    target,
    batchSize: options.batchSize,
    maxAttempts: options.maxAttempts,
    maxAgeSeconds,
    startFrom: options.startFrom,
    delivery: options.delivery,
    timeoutSeconds,
    filter: options.filter,
    transform: options.transform,
  });
}

/** The subscription's target as the API takes it. */
function targetOf(
  group: string,
  options: SubscriptionOptions,
  topics: ReadonlyMap<string, BusTopic>,
  functionArn: (fn: lambda.IFunction) => string,
): { type: 'lambda' | 'webhook' | 'topic'; [member: string]: string } {
  const { target } = options;
  if (typeof target === 'string') {
    if (Token.isUnresolved(target)) return { type: 'webhook', url: target };
    try {
      return { type: 'webhook', url: webhookUrl(target, STRICT_NETWORK_POLICY) };
    } catch (error) {
      throw new Error(`Subscription "${group}": ${(error as Error).message}`);
    }
  }
  if (!isBusTopic(target)) return { type: 'lambda', function: functionArn(target) };
  if (isDeadLetterName(target.name)) {
    throw new Error(
      `Subscription "${group}": target topic "${target.name}" is a dead-letter topic; only the bus appends to it.`,
    );
  }
  if (topics.get(target.name) !== target) {
    throw new Error(
      `Subscription "${group}": target topic "${target.name}" is not declared on this bus; route into what bus.addTopic returned.`,
    );
  }
  return {
    type: 'topic',
    topic: target.name,
    ...(options.targetKey === undefined ? {} : { key: options.targetKey }),
  };
}

function isBusTopic(target: lambda.IFunction | BusTopic): target is BusTopic {
  return !('functionArn' in target);
}

function defined(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}
