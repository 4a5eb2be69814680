import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DeleteCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type BusConfig, configFromEnv } from '../../shared/config';
import { Log, type LogOptions } from '../../shared/log/log';
import { partitionKey } from '../../shared/log/partition-key';
import type { SegmentItem } from '../../shared/log/segment-item';
import { busMetrics } from '../../shared/observability/metrics';
import type { SegmentRecord } from '../../shared/segment/codec';

/**
 * Helpers for tests against the emulators that `global-setup.ts` starts once
 * per run (their endpoints and table names are in the environment).
 */
export function testConfig(overrides: Partial<BusConfig> = {}): BusConfig {
  return { ...configFromEnv(), ...overrides };
}

export function documentClient(client = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export function s3Client(): S3Client {
  return new S3Client({ forcePathStyle: true });
}

/** A Log as one process (one Lambda instance) would have it: its own clients and head cache. */
export function newLog(
  options: Partial<Omit<LogOptions, 'config'>> & { config?: Partial<BusConfig> } = {},
): Log {
  return new Log({
    dynamo: options.dynamo ?? documentClient(),
    s3: options.s3 ?? s3Client(),
    config: testConfig(options.config),
    openEpochAfterConflicts: options.openEpochAfterConflicts,
    now: options.now,
    // The process's metrics, as the factories inject them: tests watch them.
    metrics: options.metrics ?? busMetrics,
  });
}

/** A topic name no other test uses. */
export function uniqueTopic(prefix = 't'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function record(value: unknown, key: string | null = null, timestamp = Date.now()): SegmentRecord {
  return {
    timestamp,
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from(JSON.stringify(value)),
    json: true,
    headers: {},
  };
}

/** Every item of a partition in the log table, segments and meta item alike. */
export async function partitionItems(
  topic: string,
  partition: number,
): Promise<(SegmentItem & { floor?: number })[]> {
  const result = await documentClient().send(
    new QueryCommand({
      TableName: testConfig().logTable,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': partitionKey(topic, partition) },
      ConsistentRead: true,
    }),
  );
  return (result.Items ?? []) as (SegmentItem & { floor?: number })[];
}

/** Deletes a partition's segments the way DynamoDB's TTL would, leaving the meta item. */
export async function expireAllSegments(topic: string, partition: number): Promise<number> {
  const segments = (await partitionItems(topic, partition)).filter((item) => item.sk >= 0);
  const dynamo = documentClient();
  for (const item of segments) {
    await dynamo.send(
      new DeleteCommand({ TableName: testConfig().logTable, Key: { pk: item.pk, sk: item.sk } }),
    );
  }
  return segments.length;
}

export async function segmentObjects(topic: string, bucket = testConfig().bucket): Promise<string[]> {
  const result = await s3Client().send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: `segments/${topic}/` }),
  );
  return (result.Contents ?? []).map((o) => o.Key as string);
}

export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
