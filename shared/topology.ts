/**
 * The bus's topology, written once. The CDK stack (`infra/eventbus.ts`) and the
 * local runtime (`local/`) both build their tables, bucket and functions from
 * these definitions, so local mode and a deployment cannot drift apart.
 *
 * Nothing here imports aws-cdk-lib or an SDK: it is plain data.
 */

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
  envVar: 'EVENTBUS_LOG_TABLE',
};

/** The log's time index: segments of a partition by `maxTs`, for reads by timestamp. */
export const logTimeIndex = 'byMaxTs';

/** Consumer groups: committed offset and lease per group-partition. */
export const groupsTable: TableDefinition = {
  id: 'Groups',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'N' },
  envVar: 'EVENTBUS_GROUPS_TABLE',
};

/** Topics, subscriptions, hashed API keys and idempotency records. */
export const registryTable: TableDefinition = {
  id: 'Registry',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  timeToLiveAttribute: 'expiresAt',
  envVar: 'EVENTBUS_REGISTRY_TABLE',
};

export const tables = [logTable, groupsTable, registryTable] as const;

/** The bucket for segments above the inline threshold. */
export const segmentBucket = {
  id: 'Segments',
  envVar: 'EVENTBUS_BUCKET',
  /** Prefix of every segment object; the lifecycle rule and the orphan sweeper work under it. */
  prefix: 'segments/',
} as const;

/** Settings the functions read from their environment, besides table and bucket names. */
export const settingsEnv = {
  /** Segments up to this many bytes are stored inline in the log item (shared/config.ts). */
  inlineThresholdBytes: 'EVENTBUS_INLINE_THRESHOLD_BYTES',
  /** ARN of the Secrets Manager secret holding the admin key (shared/auth/admin-key.ts). */
  adminKeySecretArn: 'EVENTBUS_ADMIN_KEY_SECRET_ARN',
  /** Webhook addresses beyond public HTTPS that subscriptions may reach: `loopback`, `private`, `http` (shared/delivery/network-policy.ts). */
  webhookAllow: 'EVENTBUS_WEBHOOK_ALLOW',
  /** Name of the deliverer function, which the dispatcher, the API and the deliverer itself invoke asynchronously. */
  delivererFunction: 'EVENTBUS_DELIVERER_FUNCTION',
  /** The longest topic retention, in hours: what the bucket's lifecycle keeps (shared/registry/topic-registry.ts). */
  maxRetentionHours: 'EVENTBUS_MAX_RETENTION_HOURS',
  /** First retry delay of a failing delivery, in ms (shared/delivery/backoff.ts). */
  retryBaseMs: 'EVENTBUS_RETRY_BASE_MS',
} as const;

export interface FunctionDefinition {
  readonly id: string;
  /** Source file, relative to the repository root. */
  readonly entry: string;
  readonly handler: 'handler';
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
}

/** The HTTP API behind the Function URL: publish, read, topics, keys. */
export const apiFunction: FunctionDefinition = {
  id: 'Api',
  entry: 'functions/api/handler.ts',
  handler: 'handler',
  memoryMiB: 1024,
  timeoutSeconds: 30,
};

/**
 * Consumes the log table's stream: raises each partition's floor
 * (docs/adr/0002) and wakes the groups reading the partitions touched; on a
 * schedule, wakes groups with lag or due retries (docs/adr/0005). Quick by
 * design: it never waits on a subscriber.
 */
export const dispatcherFunction: FunctionDefinition = {
  id: 'Dispatcher',
  entry: 'functions/dispatcher/handler.ts',
  handler: 'handler',
  memoryMiB: 512,
  timeoutSeconds: 60,
};

/** Delivers one cursor (group-partition) until caught up or out of time, then hands off (docs/adr/0005). */
export const delivererFunction: FunctionDefinition = {
  id: 'Deliverer',
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
} as const;

/** Periodic housekeeping: removes S3 objects of segments that were uploaded but never committed. */
export const sweeperFunction: FunctionDefinition = {
  id: 'Sweeper',
  entry: 'functions/sweeper/handler.ts',
  handler: 'handler',
  memoryMiB: 512,
  timeoutSeconds: 300,
};

/** How often the sweeper runs: on AWS an EventBridge schedule, locally a timer. */
export const sweeperSchedule = { awsRateMinutes: 60, localEverySeconds: 60 } as const;

export const functions = [apiFunction, dispatcherFunction, delivererFunction, sweeperFunction] as const;
