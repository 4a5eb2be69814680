import {
  type AttributeDefinition,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { segmentBucket, type TableDefinition, tables } from '../shared/topology';

/** Table and bucket names, keyed by the environment variable through which functions learn them. */
export type ResourceNames = Readonly<Record<string, string>>;

/** Lowercase, so that `<prefix>-segments` is a valid bucket name too. */
const PREFIX = /^[a-z0-9][a-z0-9-]{0,40}$/;

/**
 * Names of the bus's tables and bucket in local mode: `<prefix>-log`, `<prefix>-groups`,
 * `<prefix>-registry` and `<prefix>-segments`.
 *
 * @example
 * Object.assign(process.env, tableNames('test'));
 * // EVENTBUS_LOG_TABLE=test-log, ..., EVENTBUS_BUCKET=test-segments
 */
export function tableNames(prefix = 'eventbus'): ResourceNames {
  if (!PREFIX.test(prefix)) {
    throw new Error(`The prefix "${prefix}" is invalid: use 1 to 41 characters from a-z, 0-9 and "-".`);
  }
  const names: Record<string, string> = {};
  for (const def of tables) names[def.envVar] = `${prefix}-${def.id.toLowerCase()}`;
  names[segmentBucket.envVar] = `${prefix}-segments`;
  return names;
}

/**
 * Creates whatever is missing of the bus's tables (keys, indexes, stream, TTL) and bucket,
 * as `shared/topology.ts` describes them. Idempotent, and safe to run from several processes
 * at once: losing a creation race counts as success.
 *
 * Fails when a table exists with another key schema, index or stream setting, for example a
 * data directory from before a change to the definitions.
 *
 * @example
 * await provision(createEmulatorClients(emulators), tableNames());
 */
export async function provision(
  clients: { readonly dynamo: DynamoDBClient; readonly s3: S3Client },
  names: ResourceNames = tableNames(),
): Promise<void> {
  await Promise.all([
    ...tables.map((def) => ensureTable(clients.dynamo, def, nameOf(names, def.envVar))),
    ensureBucket(clients.s3, nameOf(names, segmentBucket.envVar)),
  ]);
}

/** The CreateTable request for a definition: on-demand billing, indexes projecting keys only. */
export function createTableInput(def: TableDefinition, tableName: string): CreateTableCommandInput {
  const keys = [
    def.partitionKey,
    def.sortKey,
    ...(def.indexes ?? []).flatMap((index) => [index.partitionKey, index.sortKey]),
  ];
  const attributes = new Map<string, AttributeDefinition>();
  for (const key of keys) attributes.set(key.name, { AttributeName: key.name, AttributeType: key.type });
  return {
    TableName: tableName,
    AttributeDefinitions: [...attributes.values()],
    KeySchema: [
      { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: def.indexes?.length
      ? def.indexes.map((index) => ({
          IndexName: index.indexName,
          KeySchema: [
            { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: index.sortKey.name, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: index.projection },
        }))
      : undefined,
    BillingMode: 'PAY_PER_REQUEST',
    StreamSpecification: def.stream ? { StreamEnabled: true, StreamViewType: def.stream } : undefined,
  };
}

function nameOf(names: ResourceNames, envVar: string): string {
  const name = names[envVar];
  if (!name) throw new Error(`No name given for ${envVar}.`);
  return name;
}

async function ensureTable(dynamo: DynamoDBClient, def: TableDefinition, tableName: string): Promise<void> {
  let existing = await describeTable(dynamo, tableName);
  if (!existing) {
    try {
      await dynamo.send(new CreateTableCommand(createTableInput(def, tableName)));
    } catch (error) {
      // Another process created it between our describe and our create.
      if (errorName(error) !== 'ResourceInUseException') throw error;
    }
  }
  // DynamoDB Local creates tables ACTIVE at once; LocalStack and AWS take a moment.
  const waited = await waitUntilTableExists(
    { client: dynamo, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
    { TableName: tableName },
  );
  existing = waited.reason?.Table ?? (await describeTable(dynamo, tableName));
  const mismatch = existing && differences(def, existing);
  if (mismatch) {
    throw new Error(
      `Table ${tableName} exists but does not match its definition "${def.id}" (${mismatch}); delete it (or the local data directory) and start again.`,
    );
  }
  if (def.timeToLiveAttribute) await ensureTimeToLive(dynamo, tableName, def.timeToLiveAttribute);
}

async function describeTable(
  dynamo: DynamoDBClient,
  tableName: string,
): Promise<TableDescription | undefined> {
  try {
    return (await dynamo.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/** What differs between a definition and an existing table, in the parts that cannot change in place. */
function differences(def: TableDefinition, table: TableDescription): string | undefined {
  const expected = createTableInput(def, table.TableName ?? '');
  const keys = (schema: { AttributeName?: string; KeyType?: string }[] | undefined): string =>
    (schema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).join(',');
  const found: string[] = [];
  if (keys(table.KeySchema) !== keys(expected.KeySchema)) found.push(`key schema ${keys(table.KeySchema)}`);
  const indexes = (
    list: { IndexName?: string; KeySchema?: { AttributeName?: string; KeyType?: string }[] }[],
  ) =>
    list
      .map((index) => `${index.IndexName}(${keys(index.KeySchema)})`)
      .sort()
      .join(',');
  const actualIndexes = indexes([
    ...(table.LocalSecondaryIndexes ?? []),
    ...(table.GlobalSecondaryIndexes ?? []),
  ]);
  if (actualIndexes !== indexes(expected.GlobalSecondaryIndexes ?? []))
    found.push(`indexes ${actualIndexes}`);
  const stream = table.StreamSpecification?.StreamEnabled ? table.StreamSpecification.StreamViewType : 'none';
  if (stream !== (def.stream ?? 'none')) found.push(`stream ${stream}`);
  return found.length > 0 ? found.join('; ') : undefined;
}

async function ensureTimeToLive(dynamo: DynamoDBClient, tableName: string, attribute: string): Promise<void> {
  const enabledOn = async (): Promise<string | undefined> => {
    const { TimeToLiveDescription: ttl } = await dynamo.send(
      new DescribeTimeToLiveCommand({ TableName: tableName }),
    );
    const enabled = ttl?.TimeToLiveStatus === 'ENABLED' || ttl?.TimeToLiveStatus === 'ENABLING';
    return enabled ? ttl?.AttributeName : undefined;
  };
  let current = await enabledOn();
  if (current === undefined) {
    try {
      await dynamo.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
        }),
      );
      return;
    } catch (error) {
      // A concurrent provision enabled it first ("TimeToLive is already enabled").
      if (!(errorName(error) === 'ValidationException' && /already enabled/i.test(String(error))))
        throw error;
      current = await enabledOn();
    }
  }
  if (current !== attribute) {
    throw new Error(`Table ${tableName} expires items by "${current}", not by "${attribute}" as defined.`);
  }
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  if (await bucketExists(s3, bucket)) return;
  const region = await s3.config.region();
  try {
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration:
          region === 'us-east-1' ? undefined : { LocationConstraint: region as 'eu-west-1' },
      }),
    );
  } catch (error) {
    const name = errorName(error);
    if (name === 'BucketAlreadyOwnedByYou') return;
    // s3rver answers BucketAlreadyExists where S3 says BucketAlreadyOwnedByYou; on AWS it would
    // mean someone else's bucket, which HEAD tells apart.
    if (name === 'BucketAlreadyExists' && (await bucketExists(s3, bucket))) return;
    throw error;
  }
}

async function bucketExists(s3: S3Client, bucket: string): Promise<boolean> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (errorName(error) === 'NotFound' || errorName(error) === 'NoSuchBucket' || status === 404)
      return false;
    throw error;
  }
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}
