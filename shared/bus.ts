import type { AdminKeySource } from './auth/admin-key';
import { Authorizer } from './auth/authorizer';
import { DynamoKeyStore } from './auth/dynamo-key-store';
import { IamGrants } from './auth/iam-grants';
import { type AwsClients, createAwsClients } from './aws/clients';
import { type BusConfig, configFromEnv } from './config';
import { DEFAULT_BACKOFF } from './delivery/backoff';
import { CursorStore } from './delivery/cursor-store';
import { DeadLetters } from './delivery/dead-letters';
import { Deliverer } from './delivery/deliverer';
import { Dispatcher } from './delivery/dispatcher';
import type { StoredSubscription } from './delivery/subscription';
import { LambdaTarget } from './delivery/targets/lambda-target';
import type { DeliveryTargetClient } from './delivery/targets/target';
import { WebhookTarget } from './delivery/targets/webhook-target';
import { LambdaWaker, type Waker } from './delivery/waker';
import { Log } from './log/log';
import { busMetrics } from './observability/metrics';
import { IdempotentAppends } from './publish/idempotent-appends';
import { Publisher } from './publish/publisher';
import { SubscriptionRegistry } from './registry/subscription-registry';
import { TopicRegistry } from './registry/topic-registry';
import { SubscriptionService } from './services/subscriptions';
import { TopicService } from './services/topics';

/** The bus's state and what reads and writes it, without an API in front: what the delivery functions need. */
export interface BusCore {
  readonly config: BusConfig;
  readonly clients: AwsClients;
  readonly log: Log;
  readonly topics: TopicRegistry;
  readonly subscriptions: SubscriptionRegistry;
  readonly cursors: CursorStore;
  /** Wakes deliverers (docs/adr/0005). */
  readonly waker: Waker;
}

/** Everything the API handler needs, wired once per process from the environment. */
export interface Bus extends BusCore {
  readonly publisher: Publisher;
  readonly authorizer: Authorizer;
}

export interface BusCoreOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Clients to use instead of those made from the environment (tests inject faults through them). */
  readonly clients?: Partial<AwsClients>;
  /** @default asynchronous invocations of the deliverer function */
  readonly waker?: Waker;
}

export interface BusOptions extends BusCoreOptions {
  /** The admin key, or where to read it (Secrets Manager on AWS, cached with a maximum age). */
  readonly adminKey: string | AdminKeySource;
}

export function createBusCore(options: BusCoreOptions = {}): BusCore {
  const env = options.env ?? process.env;
  const config = configFromEnv(env);
  const clients = { ...createAwsClients(env), ...options.clients };
  return {
    config,
    clients,
    log: new Log({ dynamo: clients.dynamo, s3: clients.s3, config }),
    topics: new TopicRegistry(clients.dynamo, config.registryTable, config.maxRetentionHours),
    subscriptions: new SubscriptionRegistry(clients.dynamo, config.registryTable),
    cursors: new CursorStore(clients.dynamo, config.groupsTable),
    waker: options.waker ?? new LambdaWaker(clients.lambda, config.delivererFunction),
  };
}

export function createBus(options: BusOptions): Bus {
  const core = createBusCore(options);
  const { clients, config, log } = core;
  return {
    ...core,
    publisher: new Publisher(log, new IdempotentAppends(clients.dynamo, config.registryTable, log)),
    authorizer: new Authorizer(options.adminKey, {
      keyStore: new DynamoKeyStore(clients.dynamo, config.registryTable),
      iamGrants: new IamGrants(clients.dynamo, config.registryTable),
    }),
  };
}

/** The workflows the API, the registrar and local mode call (shared/services/). */
export interface BusServices {
  readonly topics: TopicService;
  readonly subscriptions: SubscriptionService;
}

export function createServices(bus: BusCore): BusServices {
  const { config, log, topics, subscriptions, cursors, waker } = bus;
  return {
    topics: new TopicService(topics, log),
    subscriptions: new SubscriptionService({
      log,
      topics,
      subscriptions,
      cursors,
      waker,
      deadLetters: new DeadLetters(log, topics),
      webhookPolicy: config.webhookPolicy,
    }),
  };
}

/** The delivery side of a bus: the dispatcher that wakes cursors and the deliverer that delivers them. */
export interface Delivery {
  readonly dispatcher: Dispatcher;
  readonly deliverer: Deliverer;
}

export function createDelivery(
  bus: BusCore,
  options: { onError?: (message: string, details: Record<string, unknown>) => void } = {},
): Delivery {
  const { config, clients, log, topics, subscriptions, cursors, waker } = bus;
  const targetFor = (subscription: StoredSubscription): DeliveryTargetClient =>
    subscription.target.type === 'lambda'
      ? new LambdaTarget(clients.lambda, subscription.target.function, subscription.timeoutSeconds * 1000)
      : new WebhookTarget(
          subscription.target.url,
          subscription.secret as string,
          subscription.timeoutSeconds * 1000,
          config.webhookPolicy,
        );
  return {
    dispatcher: new Dispatcher({ log, subscriptions, topics, cursors, waker }),
    deliverer: new Deliverer({
      log,
      cursors,
      subscriptions,
      topics,
      deadLetters: new DeadLetters(log, topics),
      targetFor,
      waker,
      backoff: { ...DEFAULT_BACKOFF, baseMs: config.retryBaseMs },
      onError: options.onError,
      observer: busMetrics,
    }),
  };
}
