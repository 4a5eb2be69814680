import { randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { UnavailableError } from '../errors';
import { busMetrics } from '../observability/metrics';
import { type EncodedSegment, encodeSegment, type SegmentCodec, type SegmentRecord } from '../segment/codec';
import { readHead } from './head';
import { writeUnits } from './item-size';
import { partitionKey } from './partition-key';
import type { SegmentItem } from './segment-item';
import type { SegmentStore } from './segment-store';

export interface AppenderOptions {
  readonly dynamo: DynamoDBDocumentClient;
  readonly segments: SegmentStore;
  readonly table: string;
  readonly inlineThresholdBytes: number;
  readonly headCacheMs: number;
  readonly attempts: number;
  readonly codec?: SegmentCodec;
  /** Records per segment when several appends to one partition are coalesced. */
  readonly maxSegmentRecords?: number;
  /** Raw bytes per segment when several appends are coalesced (a single append may exceed it). */
  readonly maxSegmentBytes?: number;
  readonly now?: () => number;
}

/**
 * An append never commits a segment uploaded longer ago than this, so the
 * orphan sweeper, which waits longer, cannot delete an object that a late
 * commit (say, of a Lambda frozen mid-append) would then point at.
 */
export const COMMIT_DEADLINE_MS = 5 * 60 * 1000;

/**
 * The append failed and may nevertheless have committed: a write's answer was
 * lost and nothing since proved where it went. A retry must look for the
 * segment (by its id) before writing it again.
 */
export class CommitUnknownError extends UnavailableError {}

/** What an append may ask besides its records. */
export interface AppendOptions {
  /**
   * Commit these records as a segment of their own with this id, so the
   * commit can be found later (an idempotent publish looks for it).
   */
  readonly segmentId?: string;
  /** Epoch ms after which no write is attempted: past it, the append fails without committing. */
  readonly deadline?: number;
}

/** Where an append landed: its events have offsets `baseOffset` .. `baseOffset + count - 1`. */
export interface AppendResult {
  readonly baseOffset: number;
  readonly count: number;
}

interface PendingAppend {
  readonly records: SegmentRecord[];
  readonly options: AppendOptions;
  readonly retentionHours: number;
  readonly bytes: number;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

interface PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  pending: PendingAppend[];
  draining: boolean;
}

interface CachedHead {
  readonly offset: number;
  readonly readAt: number;
}

/**
 * Appends segments to the log. One conditional PutItem at the partition's
 * head commits a segment; nothing is acknowledged before that write
 * succeeded. Appends to the same partition from this process are queued and
 * coalesced into one segment (group commit), so concurrent requests cost one
 * write, not one conflict each. Other processes are kept apart by the
 * condition alone.
 */
export class Appender {
  private readonly queues = new Map<string, PartitionQueue>();
  private readonly heads = new Map<string, CachedHead>();
  private readonly now: () => number;
  private readonly maxSegmentRecords: number;
  private readonly maxSegmentBytes: number;

  constructor(private readonly options: AppenderOptions) {
    this.now = options.now ?? Date.now;
    this.maxSegmentRecords = options.maxSegmentRecords ?? 5_000;
    this.maxSegmentBytes = options.maxSegmentBytes ?? 4 * 1024 * 1024;
  }

  /**
   * Appends `records` to one partition as a contiguous run of offsets and
   * resolves once they are durably committed.
   *
   * @example
   * const { baseOffset } = await appender.append('orders', 0, 168, [record]);
   */
  append(
    topic: string,
    partition: number,
    retentionHours: number,
    records: SegmentRecord[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    if (records.length === 0) return Promise.reject(new Error('append needs at least one record'));
    const pk = partitionKey(topic, partition);
    let queue = this.queues.get(pk);
    if (!queue) {
      queue = { topic, partition, pending: [], draining: false };
      this.queues.set(pk, queue);
    }
    const bytes = records.reduce((sum, r) => sum + r.value.length + (r.key?.length ?? 0), 0);
    const done = new Promise<AppendResult>((resolve, reject) => {
      queue.pending.push({ records, options, retentionHours, bytes, resolve, reject });
    });
    if (!queue.draining) void this.drain(pk, queue);
    return done;
  }

  /** Commits queued appends one segment at a time, in arrival order. */
  private async drain(pk: string, queue: PartitionQueue): Promise<void> {
    queue.draining = true;
    try {
      while (queue.pending.length > 0) {
        const batch = this.takeBatch(queue);
        const records = batch.flatMap((p) => p.records);
        try {
          const baseOffset = await this.commitSegment(
            queue.topic,
            queue.partition,
            batch[0].retentionHours,
            records,
            batch[0].options,
          );
          let offset = baseOffset;
          for (const p of batch) {
            p.resolve({ baseOffset: offset, count: p.records.length });
            offset += p.records.length;
          }
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      queue.draining = false;
      if (queue.pending.length === 0) this.queues.delete(pk);
    }
  }

  private takeBatch(queue: PartitionQueue): PendingAppend[] {
    const batch = [queue.pending.shift() as PendingAppend];
    let count = batch[0].records.length;
    let bytes = batch[0].bytes;
    // An append with its own segment id is a segment of its own.
    if (batch[0].options.segmentId) return batch;
    while (queue.pending.length > 0) {
      const next = queue.pending[0];
      if (next.options.segmentId) break;
      if (next.retentionHours !== batch[0].retentionHours) break;
      if (count + next.records.length > this.maxSegmentRecords || bytes + next.bytes > this.maxSegmentBytes)
        break;
      batch.push(queue.pending.shift() as PendingAppend);
      count += next.records.length;
      bytes += next.bytes;
    }
    return batch;
  }

  /** Encodes, stores (S3 first when large) and commits one segment; returns its base offset. */
  private async commitSegment(
    topic: string,
    partition: number,
    retentionHours: number,
    records: SegmentRecord[],
    options: AppendOptions,
  ): Promise<number> {
    const { dynamo, table } = this.options;
    const pk = partitionKey(topic, partition);
    const segmentId = options.segmentId ?? newSegmentId();
    const { segment, inline } = this.encode(pk, segmentId, retentionHours, records);
    const s3Key = inline ? undefined : await this.options.segments.put(topic, partition, segment.bytes);
    const uploadedAt = this.now();
    // The head of a write whose answer was lost, until something proves it did not land.
    let unknownAt: number | undefined;
    const fail = (message: string, cause?: unknown): never => {
      const Failure = unknownAt === undefined ? UnavailableError : CommitUnknownError;
      throw new Failure(message, 1, { cause });
    };

    let head = await this.head(pk);
    for (let attempt = 1; ; attempt++) {
      if (
        (!inline && this.now() - uploadedAt > COMMIT_DEADLINE_MS) ||
        (options.deadline !== undefined && this.now() > options.deadline)
      ) {
        fail('The append took too long to commit; retry the request.');
      }
      const item = segmentItem(pk, head, segment, segmentId, this.expiresAt(retentionHours), { s3Key });
      try {
        //   head h ──► PutItem(sk = h) if no item at (pk, h)
        //   ├─ ok:       committed; offsets h .. h+count-1 are ours, the head is h+count
        //   ├─ conflict: someone committed at h first; unless that item is ours
        //   │            (an earlier try whose answer was lost), re-read the head
        //   └─ unknown:  the write may or may not have landed; retry at the same h,
        //                where a conflict with our own segmentId proves it landed
        await dynamo.send(
          new PutCommand({
            TableName: table,
            Item: item,
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        this.heads.set(pk, { offset: item.last + 1, readAt: this.now() });
        return head;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) {
          if (committedSegmentId(error) === segmentId) {
            this.heads.set(pk, { offset: item.last + 1, readAt: this.now() });
            return head;
          }
          // Someone else's segment is at `head`: ours is not there, and a lost write to it can never land.
          if (unknownAt === head) unknownAt = undefined;
          this.heads.delete(pk);
          // A lost race is billed as a write: the metric shows when writers crowd a partition.
          busMetrics.appendConflict(attempt < this.options.attempts);
          if (attempt >= this.options.attempts) {
            fail(`Partition ${partition} of topic "${topic}" is busy; retry the request.`, error);
          }
          await sleep(backoffMs(attempt));
          head = await this.head(pk);
        } else {
          // A request DynamoDB refused as malformed (not throttled) fails the same way every time.
          if (isPermanent(error)) throw error;
          // Refused by throttling, the write did not land; otherwise its answer is unknown: keep
          // `head` so the next try detects our own commit.
          if (!isThrottled(error)) unknownAt = head;
          if (attempt >= this.options.attempts)
            fail('The log could not be written; retry the request.', error);
          await sleep(backoffMs(attempt));
        }
      }
    }
  }

  /**
   * Encodes the records with the configured codec. When that is `none`, a
   * segment is compressed (brotli) where that saves money (docs/adr/0008):
   * an inline segment when its item then costs fewer write units, and a
   * segment of up to twice the inline threshold when it then fits inline,
   * which spares its S3 PUT (at list prices one PUT costs as much as 8 write
   * units: about the threshold's worth). The threshold bounds stored bytes.
   */
  private encode(
    pk: string,
    segmentId: string,
    retentionHours: number,
    records: SegmentRecord[],
  ): { segment: EncodedSegment; inline: boolean } {
    const threshold = this.options.inlineThresholdBytes;
    const codec = this.options.codec ?? 'none';
    const plain = encodeSegment(records, { codec });
    const plainInline = plain.bytes.length <= threshold;
    // Events of JSON compress 2-3 times in a segment; past twice the threshold, trying mostly wastes CPU.
    if (codec !== 'none' || plain.bytes.length > COMPRESS_TO_INLINE_FACTOR * threshold) {
      return { segment: plain, inline: plainInline };
    }
    // The head is not known yet: price the item at the widest offsets, which never understates it.
    const units = (segment: EncodedSegment) =>
      writeUnits(segmentItem(pk, WIDEST_OFFSET, segment, segmentId, this.expiresAt(retentionHours), {}));
    if (plainInline && units(plain) === 1) return { segment: plain, inline: true };
    const packed = encodeSegment(records, { codec: 'brotli' });
    if (packed.bytes.length > threshold) return { segment: plain, inline: plainInline };
    if (!plainInline || units(packed) < units(plain)) return { segment: packed, inline: true };
    return { segment: plain, inline: true };
  }

  private expiresAt(retentionHours: number): number {
    return Math.ceil(this.now() / 1000) + retentionHours * 3600;
  }

  /** The partition's head, from the cache while it is fresh (see `readHead`). */
  private async head(pk: string): Promise<number> {
    const cached = this.heads.get(pk);
    const now = this.now();
    if (cached && now - cached.readAt < this.options.headCacheMs) return cached.offset;
    const offset = await readHead(this.options.dynamo, this.options.table, pk);
    this.heads.set(pk, { offset, readAt: now });
    return offset;
  }
}

/** Segments up to this many times the inline threshold are compressed to see whether they fit inline. */
const COMPRESS_TO_INLINE_FACTOR = 2;

/** Offsets are safe integers: an item priced at this base offset is never smaller than the real one. */
const WIDEST_OFFSET = Number.MAX_SAFE_INTEGER - 2 ** 32;

/**
 * 96 random bits, base64url (16 characters): ample to tell our own commit
 * from another writer's, in a third of a UUID's bytes (every write pays for them).
 */
function newSegmentId(): string {
  return randomBytes(12).toString('base64url');
}

/**
 * The log item of a segment at base offset `head`, in the current layout
 * (shared/log/segment-item.ts): inline bytes under `d`, or the S3 key.
 */
function segmentItem(
  pk: string,
  head: number,
  segment: EncodedSegment,
  segmentId: string,
  expiresAt: number,
  where: { s3Key?: string },
): SegmentItem {
  return {
    pk,
    sk: head,
    last: head + segment.count - 1,
    count: segment.count,
    maxTs: segment.maxTimestamp,
    expiresAt,
    id: segmentId,
    ...(where.s3Key === undefined ? { d: segment.bytes } : { s3Key: where.s3Key }),
  };
}

/** A client error the SDK would not retry (validation, access denied): no retry can help. */
function isPermanent(error: unknown): boolean {
  const { $fault, $retryable } = error as { $fault?: string; $retryable?: unknown };
  return $fault === 'client' && !$retryable;
}

/** DynamoDB refused the request for capacity: it was not applied. */
function isThrottled(error: unknown): boolean {
  return ['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded'].includes(
    (error as Error).name,
  );
}

/** The segment id of the item that beat us, in either layout, as DynamoDB returned it (raw attribute values). */
function committedSegmentId(error: ConditionalCheckFailedException): string | undefined {
  const id = (error.Item?.id ?? error.Item?.segmentId) as { S?: string } | string | undefined;
  return typeof id === 'string' ? id : id?.S;
}

/** Exponential backoff with full jitter, capped: spreads contending writers apart. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(200, 5 * 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
