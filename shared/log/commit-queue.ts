import type { SegmentRecord } from '../segment/codec';
import { partitionKey } from './partition-key';

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

/** Commits one segment of `records` to a partition; resolves to its base offset. */
export type CommitSegment = (
  topic: string,
  partition: number,
  retentionHours: number,
  records: SegmentRecord[],
  options: AppendOptions,
) => Promise<number>;

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

/**
 * Group commit: appends to the same partition from this process wait in
 * arrival order and are coalesced into one segment (up to a bound), so
 * concurrent requests cost one commit, not one each. An append with its own
 * segment id is a segment of its own.
 */
export class CommitQueue {
  private readonly queues = new Map<string, PartitionQueue>();

  constructor(
    private readonly commitSegment: CommitSegment,
    private readonly limits: { readonly maxSegmentRecords: number; readonly maxSegmentBytes: number },
  ) {}

  /**
   * Queues `records` and resolves once the segment holding them is committed.
   *
   * @example
   * const { baseOffset } = await queue.append('orders', 0, 168, [record]);
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
      if (
        count + next.records.length > this.limits.maxSegmentRecords ||
        bytes + next.bytes > this.limits.maxSegmentBytes
      )
        break;
      batch.push(queue.pending.shift() as PendingAppend);
      count += next.records.length;
      bytes += next.bytes;
    }
    return batch;
  }
}
