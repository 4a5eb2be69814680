/**
 * The bus's topology, written once. The CDK stack (`infra/eventbus.ts`) and the
 * local runtime (`local/`) both build their tables, bucket and functions from
 * these definitions, so local mode and a deployment cannot drift apart.
 *
 * Nothing here imports aws-cdk-lib or an SDK: it is plain data.
 */

import { PUBLISH_LIMIT_SETTINGS, type SettingName, STATE_ENV } from './config';

export type AttributeType = 'S' | 'N' | 'B';

export interface KeyDefinition {
  readonly name: string;
  readonly type: AttributeType;
}

/**
 * A global secondary index. Global rather than local: a local index would cap
 * each partition key's items (one topic-partition's retained segments) at
 * 10 GB (docs/adr/0004).
 */
export interface IndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyDefinition;
  readonly sortKey: KeyDefinition;
  /** Only the keys are projected: a reader follows the index to the item. */
  readonly projection: 'KEYS_ONLY';
}

export interface TableDefinition {
  /** Logical name: the CDK construct id, and (prefixed) the table name in local mode. */
  readonly id: string;
  readonly partitionKey: KeyDefinition;
  readonly sortKey: KeyDefinition;
  /** Attribute holding the TTL (epoch seconds), if items expire. */
  readonly timeToLiveAttribute?: string;
  /** A stream with the new image of each item, for the dispatcher. */
  readonly stream?: 'NEW_IMAGE';
  readonly indexes?: readonly IndexDefinition[];
  /** Environment variable through which functions learn the table's name. */
  readonly envVar: string;
}

/** The partitioned log: one item per committed segment, plus a meta item per partition at sk = -1. */
export const logTable: TableDefinition = {
  id: 'Log',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'N' },
  timeToLiveAttribute: 'expiresAt',
  stream: 'NEW_IMAGE',
  indexes: [
    {
      indexName: 'byMaxTs',
      partitionKey: { name: 'pk', type: 'S' },
      sortKey: { name: 'maxTs', type: 'N' },
      projection: 'KEYS_ONLY',
    },
  ],
  envVar: STATE_ENV.logTable,
};

/** The log's time index: segments of a partition by `maxTs`, for reads by timestamp. */
export const logTimeIndex = 'byMaxTs';

/** Consumer groups: committed offset and lease per group-partition. */
export const groupsTable: TableDefinition = {
  id: 'Groups',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'N' },
  envVar: STATE_ENV.groupsTable,
};

/** Topics, subscriptions, hashed API keys and idempotency records. */
export const registryTable: TableDefinition = {
  id: 'Registry',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  timeToLiveAttribute: 'expiresAt',
  envVar: STATE_ENV.registryTable,
};

export const tables = [logTable, groupsTable, registryTable] as const;

/** The bucket for segments above the inline threshold. */
export const segmentBucket = {
  id: 'Segments',
  envVar: STATE_ENV.bucket,
  /** Prefix of every segment object; the lifecycle rule and the orphan sweeper work under it. */
  prefix: 'segments/',
} as const;

/**
 * Lease wakes (docs/adr/0019): an SQS standard queue of delayed messages, one
 * per lease taken, due just after the lease would lapse; the dispatcher
 * consumes them. Locally an in-process delay queue plays it (`local/delay-queue.ts`).
 */
export const leaseWakeQueue = {
  id: 'LeaseWakes',
  envVar: STATE_ENV.leaseWakeQueue,
  /** A wake is due within 15 minutes (SQS's longest delay); one kept longer is stale, the sweep covers it. */
  retentionMinutes: 60,
  /** Wakes per dispatcher invocation; each is a read or two, so a batch is quick. */
  batchSize: 10,
} as const;

/** What every function that appends to the log reads: the API, and the deliverer for dead letters. */
const APPEND_SETTINGS = ['inlineThresholdBytes', 'headCacheMs', 'appendAttempts', 'segmentCodec'] as const;

/** A table a function reads (`r`: get, query, scan) or reads and writes (`rw`). */
export type TableAccess = 'r' | 'rw';

/** The segment bucket: read, read and write, or read and delete (the orphan sweeper: it never writes). */
export type BucketAccess = 'r' | 'rw' | 'rd';

/**
 * What a function may touch, and so what it learns: each table and the bucket it names reach its
 * environment, and its IAM role is granted exactly this (`infra/eventbus.ts`); anything left out is
 * neither granted nor named. Local mode gives each function the same environment (`local/`).
 */
export interface FunctionAccess {
  readonly log?: TableAccess;
  readonly groups?: TableAccess;
  readonly registry?: TableAccess;
  readonly segments?: BucketAccess;
  /** Reads the admin key's secret (its ARN is the `adminKeySecretArn` setting). */
  readonly adminKey?: 'r';
  /** Wakes deliverers: it learns the deliverer's name (`delivererFunction`), or, the deliverer itself, hands off to itself. */
  readonly deliverer?: 'invoke';
  /** Lease wakes: `send` arms them (the deliverer); `consume` receives them and arms them again (the dispatcher). */
  readonly leaseWakes?: 'send' | 'consume';
}

/** The tables a function's access names, keyed as in `FunctionAccess`. */
export const accessTables = { log: logTable, groups: groupsTable, registry: registryTable } as const;

/** The tables a function uses, in the order of `tables`: it learns their names through their `envVar`. */
export function tablesOf(def: FunctionDefinition): TableDefinition[] {
  return (Object.keys(accessTables) as (keyof typeof accessTables)[])
    .filter((name) => def.access[name] !== undefined)
    .map((name) => accessTables[name]);
}

export interface FunctionDefinition {
  readonly id: string;
  /** The tables, bucket, secret and function it may use: the one source of its grants and its environment. */
  readonly access: FunctionAccess;
  /** The settings it reads (shared/config.ts): only these reach its environment. */
  readonly settings: readonly SettingName[];
  /** Source file, relative to the repository root. */
  readonly entry: string;
  readonly handler: 'handler';
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
}

/** The HTTP API behind the Function URL: publish, read, topics, keys. */
export const apiFunction: FunctionDefinition = {
  id: 'Api',
  access: { log: 'rw', groups: 'rw', registry: 'rw', segments: 'rw', adminKey: 'r', deliverer: 'invoke' },
  settings: [
    ...APPEND_SETTINGS,
    'webhookAllow',
    'delivererFunction',
    'maxRetentionHours',
    'adminKeySecretArn',
    'adminKeyMaxAgeSeconds',
    'accessLog',
    ...PUBLISH_LIMIT_SETTINGS,
  ],
  entry: 'functions/api/handler.ts',
  handler: 'handler',
  // A single publish is ~6 ms of waiting on DynamoDB and ~1.4 ms of CPU (measured: bench/prices.json). At 512 MB
  // (0.29 vCPU) the wait is billed at half 1024's rate, the CPU costs the same at any size under 1769 MB,
  // and a batch of 100 still takes about 90 ms.
  memoryMiB: 512,
  timeoutSeconds: 30,
};

/**
 * Consumes the log table's stream: raises each partition's floor
 * (docs/adr/0002) and wakes the groups reading the partitions touched; on a
 * schedule, wakes groups with lag or due retries (docs/adr/0005); from the
 * lease-wake queue, wakes a partition whose holder died (docs/adr/0019).
 * Quick by design: it never waits on a subscriber.
 */
export const dispatcherFunction: FunctionDefinition = {
  id: 'Dispatcher',
  // It raises each partition's floor in the log's meta item, reads subscriptions and cursors, and wakes
  // deliverers for the partitions touched (docs/adr/0005) and for leases that lapsed (docs/adr/0019).
  access: { log: 'rw', groups: 'r', registry: 'r', deliverer: 'invoke', leaseWakes: 'consume' },
  settings: ['delivererFunction'],
  entry: 'functions/dispatcher/handler.ts',
  handler: 'handler',
  memoryMiB: 512,
  timeoutSeconds: 60,
};

/** Delivers one cursor (group-partition) until caught up or out of time, then hands off (docs/adr/0005). */
export const delivererFunction: FunctionDefinition = {
  id: 'Deliverer',
  // It reads the log (segments too), moves cursors, appends dead letters (creating a group's dead-letter
  // topic on first use), hands work it has no time for to a fresh invocation of itself, and arms a wake
  // per lease it takes.
  access: {
    log: 'rw',
    groups: 'rw',
    registry: 'rw',
    segments: 'rw',
    deliverer: 'invoke',
    leaseWakes: 'send',
  },
  // Dead letters and topic targets' events are appended like any event (a topic target's within the publish
  // limits); its own name it learns from Lambda.
  settings: [
    ...APPEND_SETTINGS,
    'webhookAllow',
    'retryBaseMs',
    'maxRetentionHours',
    ...PUBLISH_LIMIT_SETTINGS,
  ],
  entry: 'functions/deliverer/handler.ts',
  handler: 'handler',
  memoryMiB: 512,
  timeoutSeconds: 180,
};

/** How often the dispatcher sweeps for lagging groups and due retries: on AWS a schedule, locally a timer. */
export const deliverySweepSchedule = { awsRateMinutes: 1, localEverySeconds: 1 } as const;

/** Stream trigger of the dispatcher: the same batching on AWS and locally. */
export const dispatcherTrigger = {
  batchSize: 100,
  maxBatchingWindowSeconds: 0,
  startingPosition: 'TRIM_HORIZON',
  retryAttempts: 10,
  /** Commits are inserts; floor updates (MODIFY) and TTL deletions (REMOVE) need no dispatch. */
  eventNames: ['INSERT'],
} as const;

/** Periodic housekeeping: removes S3 objects of segments that were uploaded but never committed. */
export const sweeperFunction: FunctionDefinition = {
  id: 'Sweeper',
  // It raises floors the stream left behind (listing topics for that), and deletes orphaned objects.
  access: { log: 'rw', registry: 'r', segments: 'rd' },
  settings: ['maxRetentionHours'],
  entry: 'functions/sweeper/handler.ts',
  handler: 'handler',
  memoryMiB: 512,
  timeoutSeconds: 300,
};

/** How often the sweeper runs: on AWS an EventBridge schedule, locally a timer. */
export const sweeperSchedule = { awsRateMinutes: 60, localEverySeconds: 60 } as const;

/**
 * Applies the topics and subscriptions declared in the CDK app to the registry at deploy time (a custom
 * resource): they exist before the first event. Not part of local mode, where the API creates them.
 */
export const registrarFunction: FunctionDefinition = {
  id: 'Registrar',
  // It checks a subscription's topic and starts its cursors where `startFrom` says.
  access: { log: 'rw', groups: 'rw', registry: 'rw' },
  settings: ['maxRetentionHours', 'webhookAllow'],
  entry: 'functions/registrar/handler.ts',
  handler: 'handler',
  memoryMiB: 256,
  timeoutSeconds: 120,
};

/** The functions of every deployment, and of local mode. */
export const functions = [apiFunction, dispatcherFunction, delivererFunction, sweeperFunction] as const;
