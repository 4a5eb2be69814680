import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryAll } from '../aws/query-all';
import { logTimeIndex, segmentBucket } from '../topology';
import { COMMIT_DEADLINE_MS } from './appender';
import { partitionKey } from './partition-key';
import type { SegmentStore } from './segment-store';

export interface OrphanSweepOptions {
  readonly dynamo: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly segments: SegmentStore;
  readonly table: string;
  readonly bucket: string;
  /**
   * Objects younger than this are left alone: their append may still commit.
   * Must exceed the appender's commit deadline, after which it never commits.
   * @default 1 hour
   */
  readonly graceMs?: number;
  readonly now?: () => number;
}

export interface OrphanSweepResult {
  readonly scanned: number;
  readonly removed: string[];
}

/**
 * Finds segment objects in S3 that no log item points at and removes them.
 * They come from appends that uploaded a segment and then crashed or gave up
 * before the commit: nothing was acknowledged for them, so they hold no event
 * anybody was promised.
 *
 * An object is looked up through the time index: its segment's `maxTs` (the
 * append time of its events) lies a little before the upload, so only a few
 * items of the partition are read per object.
 */
export async function sweepOrphanSegments(options: OrphanSweepOptions): Promise<OrphanSweepResult> {
  const { s3, bucket, segments } = options;
  const now = (options.now ?? Date.now)();
  const graceMs = options.graceMs ?? 60 * 60 * 1000;
  if (graceMs < COMMIT_DEADLINE_MS) {
    throw new Error(`graceMs must be at least the commit deadline (${COMMIT_DEADLINE_MS} ms).`);
  }
  const removed: string[] = [];
  let scanned = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: segmentBucket.prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (!object.Key || !object.LastModified) continue;
      scanned++;
      const uploadedAt = object.LastModified.getTime();
      if (now - uploadedAt < graceMs) continue;
      if (await isCommitted(options, object.Key, uploadedAt)) continue;
      await segments.delete(object.Key);
      removed.push(object.Key);
    }
    token = page.NextContinuationToken;
  } while (token);
  return { scanned, removed };
}

/** How far before its upload a segment's events may have been stamped (time queued behind other appends). */
const STAMP_BEFORE_UPLOAD_MS = 15 * 60 * 1000;
/** Clock difference tolerated between S3 and the appender. */
const CLOCK_SKEW_MS = 60 * 1000;

async function isCommitted(options: OrphanSweepOptions, key: string, uploadedAt: number): Promise<boolean> {
  const location = parseSegmentKey(key);
  if (!location) return true; // Not ours to judge: leave objects of unknown shape alone.
  const pk = partitionKey(location.topic, location.partition);
  // The time index projects keys only: it names the candidate segments, the table says where their bytes are.
  const candidates = await queryAll(options.dynamo, {
    TableName: options.table,
    IndexName: logTimeIndex,
    KeyConditionExpression: 'pk = :pk AND maxTs BETWEEN :from AND :to',
    ExpressionAttributeValues: {
      ':pk': pk,
      ':from': uploadedAt - STAMP_BEFORE_UPLOAD_MS - CLOCK_SKEW_MS,
      ':to': uploadedAt + CLOCK_SKEW_MS,
    },
  });
  if (candidates.length === 0) return false;
  const sks = candidates.map((item) => item.sk as number);
  const referencing = await queryAll(options.dynamo, {
    TableName: options.table,
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
    FilterExpression: 's3Key = :key',
    ExpressionAttributeValues: {
      ':pk': pk,
      ':low': Math.min(...sks),
      ':high': Math.max(...sks),
      ':key': key,
    },
    ProjectionExpression: 'sk',
    ConsistentRead: true,
  });
  return referencing.length > 0;
}

/** `segments/<topic>/<partition>/<uuid>` → topic and partition. */
function parseSegmentKey(key: string): { topic: string; partition: number } | undefined {
  const match = /^segments\/([A-Za-z0-9._-]{1,200})\/(\d{1,3})\/[0-9a-f-]{36}$/.exec(key);
  return match ? { topic: match[1], partition: Number(match[2]) } : undefined;
}
