import type { AdminKeySource } from './auth/admin-key';
import { Authorizer } from './auth/authorizer';
import { DynamoKeyStore } from './auth/dynamo-key-store';
import { IamGrants } from './auth/iam-grants';
import { type AwsClients, createAwsClients } from './aws/clients';
import { type BusConfig, configFromEnv } from './config';
import { DEFAULT_BACKOFF } from './delivery/backoff';
import { CursorStore } from './delivery/cursor-store';
import { DeadLetters } from './delivery/dead-letters';
import { type DelayedWaker, SqsDelayedWaker } from './delivery/delayed-waker';
import { Deliverer } from './delivery/deliverer';
import { Dispatcher } from './delivery/dispatcher';
import type { StoredSubscription } from './delivery/subscription';
import { LambdaTarget } from './delivery/targets/lambda-target';
import type { DeliveryTargetClient } from './delivery/targets/target';
import { WebhookTarget } from './delivery/targets/webhook-target';
import { LambdaWaker, type Waker } from './delivery/waker';
import { FloorKeeper } from './log/floor-keeper';
import { Log } from './log/log';
import { SegmentStore } from './log/segment-store';
import { type BusMetrics, busMetrics } from './observability/metrics';
import { IdempotentAppends } from './publish/idempotent-appends';
import { DEFAULT_LIMITS, type PublishLimits } from './publish/limits';
import { Publisher } from './publish/publisher';
import { SubscriptionRegistry } from './registry/subscription-registry';
import { TopicRegistry } from './registry/topic-registry';
import { TopicTargets } from './routing/topic-target';
import { SchemaRegistry } from './schemas/schema-registry';
import { TopicSchemas } from './schemas/topic-schemas';
import { RoutingService } from './services/routing';
import { SchemaService } from './services/schemas';
import { SubscriptionService } from './services/subscriptions';
import { TopicService } from './services/topics';

/**
 * The objects every function role shares: settings, clients, the log, the
 * registries, the cursors, the waker and the metrics. The role factories
 * below build on it — one per function (api, deliverer, dispatcher,
 * sweeper, registrar) — and the handlers, local mode and the tests all wire
 * through them.
 */
export interface BusCore {
  readonly config: BusConfig;
  readonly clients: AwsClients;
  readonly log: Log;
  readonly topics: TopicRegistry;
  readonly subscriptions: SubscriptionRegistry;
  readonly cursors: CursorStore;
  /** Wakes deliverers (docs/adr/0005). */
  readonly waker: Waker;
  /** Arms lease wakes (docs/adr/0019); undefined where the function has no lease-wake queue. */
  readonly delayedWaker?: DelayedWaker;
  /** The one metrics port the domain tells; a handler flushes it where it ends. */
  readonly metrics: BusMetrics;
}

export interface BusCoreOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Clients to use instead of those made from the environment (tests inject faults through them). */
  readonly clients?: Partial<AwsClients>;
  /** @default asynchronous invocations of the deliverer function */
  readonly waker?: Waker;
  /** @default messages of the lease-wake queue, when the environment names one (local mode injects its own) */
  readonly delayedWaker?: DelayedWaker;
  /** @default the process's metrics (one per process, as Powertools intends) */
  readonly metrics?: BusMetrics;
  /** The clock the process's caches (topics, schema versions) expire by, in ms. @default performance.now */
  readonly cacheClock?: () => number;
}

/**
 * @example
 * const core = createBusCore({ env: process.env });
 * const { deliverer } = createDelivererRole(core);
 */
export function createBusCore(options: BusCoreOptions = {}): BusCore {
  const env = options.env ?? process.env;
  const config = configFromEnv(env);
  const clients = { ...createAwsClients(env), ...options.clients };
  const metrics = options.metrics ?? busMetrics;
  // Each part is made when first used: a role touches only the tables its topology access names, and
  // on AWS its environment names no others (the sweeper has no groups table).
  return lazily({
    config: () => config,
    clients: () => clients,
    log: () => new Log({ dynamo: clients.dynamo, s3: clients.s3, config, metrics }),
    topics: () =>
      new TopicRegistry(
        clients.dynamo,
        config.registryTable,
        config.maxRetentionHours,
        undefined,
        options.cacheClock,
      ),
    subscriptions: () => new SubscriptionRegistry(clients.dynamo, config.registryTable),
    cursors: () => new CursorStore(clients.dynamo, config.groupsTable),
    waker: () => options.waker ?? new LambdaWaker(clients.lambda, config.delivererFunction),
    delayedWaker: () =>
      options.delayedWaker ??
      (config.leaseWakeQueue ? new SqsDelayedWaker(clients.sqs, config.leaseWakeQueue) : undefined),
    metrics: () => metrics,
  });
}

/** An object whose members are built on first read, once each. */
function lazily<T extends object>(makers: { [K in keyof T]: () => T[K] }): T {
  const object = {} as T;
  for (const [name, make] of Object.entries(makers) as [keyof T & string, () => unknown][]) {
    Object.defineProperty(object, name, {
      enumerable: true,
      configurable: true,
      get() {
        const value = make();
        Object.defineProperty(object, name, { value, enumerable: true });
        return value;
      },
    });
  }
  return object;
}

/** The API function's objects: the core, the publisher and the authorizer. */
export interface Bus extends BusCore {
  readonly publisher: Publisher;
  readonly authorizer: Authorizer;
  readonly schemas: SchemaService;
}

export interface BusOptions extends BusCoreOptions {
  /** The admin key, or where to read it (Secrets Manager on AWS, cached with a maximum age). */
  readonly adminKey: string | AdminKeySource;
}

/**
 * The API role: wired once per process from the environment.
 *
 * @example
 * const bus = createBus({ adminKey: adminKeySource() });
 */
export function createBus(options: BusOptions): Bus {
  const core = createBusCore(options);
  const { clients, config, log, metrics, topics } = core;
  const schemaRegistry = new SchemaRegistry(clients.dynamo, config.registryTable);
  // One cache of compiled schemas: what publishes enforce, and what a registration here refreshes at once.
  const enforced = new TopicSchemas(schemaRegistry, { now: options.cacheClock });
  return {
    ...core,
    publisher: new Publisher(
      log,
      new IdempotentAppends(clients.dynamo, config.registryTable, log),
      undefined,
      metrics,
      enforced,
    ),
    schemas: new SchemaService(schemaRegistry, topics, enforced),
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
  /** Tries a subscription's routing without delivering (`POST /routing/test`). */
  readonly routing: RoutingService;
}

export function createServices(bus: BusCore): BusServices {
  const { config, log, topics, subscriptions, cursors, waker, metrics } = bus;
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
      metrics,
    }),
    routing: new RoutingService(topics, log),
  };
}

/** The deliverer role: one deliverer, delivering to Lambda functions, webhooks and topics. */
export interface DelivererRole {
  readonly core: BusCore;
  readonly deliverer: Deliverer;
}

/**
 * @example
 * const { deliverer } = createDelivererRole(createBusCore(), { onError: (m, d) => logger.warn(m, d) });
 * await deliverer.deliver({ cursor: 'billing', partition: 0 }, 60_000);
 */
export function createDelivererRole(
  core: BusCore,
  options: {
    onError?: (message: string, details: Record<string, unknown>) => void;
    /** What a topic target's events may carry, as at publish. @default the defaults */
    limits?: PublishLimits;
  } = {},
): DelivererRole {
  const { config, clients, log, topics, subscriptions, cursors, waker, delayedWaker, metrics } = core;
  // Topic targets append as publish does: idempotently, under the target topic's schema and limits.
  const topicTargets = new TopicTargets({
    topics,
    appends: new IdempotentAppends(clients.dynamo, config.registryTable, log),
    schemas: new TopicSchemas(new SchemaRegistry(clients.dynamo, config.registryTable)),
    limits: options.limits ?? DEFAULT_LIMITS,
  });
  const targetFor = (subscription: StoredSubscription): DeliveryTargetClient => {
    const { target } = subscription;
    if (target.type === 'lambda')
      return new LambdaTarget(clients.lambda, target.function, subscription.timeoutSeconds * 1000);
    if (target.type === 'webhook')
      return new WebhookTarget(
        target.url,
        subscription.secret as string,
        subscription.timeoutSeconds * 1000,
        config.webhookPolicy,
      );
    throw new Error('Topic targets are appended by the deliverer itself.');
  };
  return {
    core,
    deliverer: new Deliverer({
      log,
      cursors,
      subscriptions,
      topics,
      deadLetters: new DeadLetters(log, topics),
      targetFor,
      waker,
      delayedWaker,
      backoff: { ...DEFAULT_BACKOFF, baseMs: config.retryBaseMs },
      onError: options.onError,
      observer: metrics,
      topicTargets,
    }),
  };
}

/** The dispatcher role: raises floors from the stream and wakes deliverers. */
export interface DispatcherRole {
  readonly dispatcher: Dispatcher;
  readonly floors: FloorKeeper;
}

/**
 * @example
 * const { dispatcher } = createDispatcherRole(createBusCore());
 * await dispatcher.sweep();
 */
export function createDispatcherRole(core: BusCore): DispatcherRole {
  const { log, subscriptions, topics, cursors, waker, delayedWaker, clients, config } = core;
  return {
    dispatcher: new Dispatcher({ log, subscriptions, topics, cursors, waker, delayedWaker }),
    floors: new FloorKeeper({ dynamo: clients.dynamo, table: config.logTable }),
  };
}

/** The sweeper role: floors brought up to heads, orphaned segment objects removed. */
export interface SweeperRole {
  readonly core: BusCore;
  readonly floors: FloorKeeper;
  readonly segments: SegmentStore;
}

/**
 * @example
 * const { floors } = createSweeperRole(createBusCore());
 */
export function createSweeperRole(core: BusCore): SweeperRole {
  const { clients, config } = core;
  return {
    core,
    floors: new FloorKeeper({ dynamo: clients.dynamo, table: config.logTable }),
    segments: new SegmentStore(clients.s3, config.bucket),
  };
}

/**
 * The registrar role (the construct's declarations): the core is all it
 * needs, as the declarations write through the registries and cursors.
 *
 * @example
 * await applyDeclaration(createRegistrarRole(), declaration);
 */
export function createRegistrarRole(options: BusCoreOptions = {}): BusCore {
  return createBusCore(options);
}
