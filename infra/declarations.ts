import { type Duration, Token } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { MIN_RETENTION_HOURS } from '../shared/config';
import { STRICT_NETWORK_POLICY } from '../shared/delivery/network-policy';
import {
  type DeliveryGuarantee,
  MAX_AGE_SECONDS,
  MAX_ATTEMPTS,
  MAX_BATCH_SIZE,
  MAX_TIMEOUT_SECONDS,
  webhookUrl,
} from '../shared/delivery/subscription';
import { GroupName, TopicName } from '../shared/names';
import { MAX_PARTITIONS } from '../shared/registry/topic';
import { integerRule, validate } from '../shared/validation';

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
   * exactly this function) or an HTTPS webhook URL (signed the Standard Webhooks way).
   */
  readonly target: lambda.IFunction | string;
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
export function topicDeclaration(name: string, options: TopicOptions, maxRetentionDays: number): BusTopic {
  checkName('topic', name);
  checkInteger(`Topic "${name}": partitions`, options.partitions, 1, MAX_PARTITIONS);
  const retentionHours = options.retention?.toHours() ?? 7 * 24;
  checkInteger(
    `Topic "${name}": retention in hours`,
    retentionHours,
    MIN_RETENTION_HOURS,
    maxRetentionDays * 24,
  );
  return { name, partitions: options.partitions, retentionHours };
}

/** The `PUT /subscriptions/{group}` body `subscribe` declares, its target as the function's ARN or the URL. */
export function subscriptionBody(
  group: string,
  options: SubscriptionOptions,
  topics: ReadonlyMap<string, BusTopic>,
  functionArn: (fn: lambda.IFunction) => string,
): Record<string, unknown> {
  checkName('group', group);
  const topic = typeof options.topic === 'string' ? options.topic : options.topic.name;
  if (!topics.has(topic)) {
    throw new Error(
      `Subscription "${group}": topic "${topic}" is not declared on this bus; declare it first with bus.addTopic('${topic}', …).`,
    );
  }
  let target: Record<string, string>;
  if (typeof options.target === 'string') {
    const url = options.target;
    if (Token.isUnresolved(url)) {
      target = { type: 'webhook', url };
    } else {
      try {
        target = { type: 'webhook', url: webhookUrl(url, STRICT_NETWORK_POLICY) };
      } catch (error) {
        throw new Error(`Subscription "${group}": ${(error as Error).message}`);
      }
    }
  } else {
    if (options.signingSecret)
      throw new Error(`Subscription "${group}": signingSecret is for webhooks only.`);
    target = { type: 'lambda', function: functionArn(options.target) };
  }
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
  const body: Record<string, unknown> = {
    topic,
    target,
    batchSize: options.batchSize,
    maxAttempts: options.maxAttempts,
    maxAgeSeconds,
    startFrom: options.startFrom,
    delivery: options.delivery,
    timeoutSeconds,
  };
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}
