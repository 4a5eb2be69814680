import { randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { isPermanentRefusal, isStorageThrottle, UnavailableError } from '../errors';
import { type MetricsPort, NO_METRICS } from '../observability/metrics';
import type { EncodedSegment, SegmentCodec, SegmentRecord } from '../segment/codec';
import { type AppendOptions, type AppendResult, CommitQueue } from './commit-queue';
import { readTop } from './head';
import { HeadCache } from './head-cache';
import { partitionKey } from './partition-key';
import { EPOCH_MIN_MS, EPOCH_MS, type Reservation, Reservations } from './reservations';
import { conflictingItem, type SegmentItem, segmentItem } from './segment-item';
import { encodeForLog } from './segment-pricing';
import type { SegmentStore } from './segment-store';

export interface AppenderOptions {
  /** Told of conflicts and reserved appends. @default none */
  readonly metrics?: Pick<MetricsPort, 'appendConflict' | 'reservedAppend'>;
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
  /** Races lost in a row after which a writer opens a reserved epoch (docs/adr/0011); default 2. */
  readonly openEpochAfterConflicts?: number;
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

export type { AppendOptions, AppendResult } from './commit-queue';

/** One encoded segment on its way to the log, whichever way it commits. */
interface Commit {
  readonly topic: string;
  readonly partition: number;
  readonly pk: string;
  readonly segment: EncodedSegment;
  readonly segmentId: string;
  /** Set when the segment was uploaded to S3 first. */
  readonly s3Key?: string;
  readonly expiresAt: number;
  readonly uploadedAt: number;
  readonly deadline?: number;
}

/**
 * Appends segments to the log; nothing is acknowledged before its commit
 * succeeded. While a partition is calm, one conditional PutItem at its head
 * commits a segment (ADR 0001). Where independent writers crowd it, a writer
 * that keeps losing races opens a reserved epoch: writers then take offsets
 * from an atomic counter and commit at them, without conflicts, until the
 * crowd is gone (ADR 0011). Appends to the same partition from this process
 * are queued and coalesced into one segment (group commit), so concurrent
 * requests cost one commit, not one each.
 */
export class Appender {
  private readonly queue: CommitQueue;
  private readonly heads: HeadCache;
  /**
   * Per partition, races this process lost since its last commit there
   * without one: a crowd shows across appends, each of which may lose only
   * once or twice before it wins.
   */
  private readonly lostRaces = new Map<string, number>();
  /** Partitions last seen in a reserved epoch. */
  private readonly reserving = new Set<string>();
  /**
   * Per partition, the end of this process's last reservation (the next one
   * starting there means no one else reserved in between), and how many of
   * its reservations in a row were so.
   */
  private readonly reservedEnds = new Map<string, { end: number; aloneStreak: number }>();
  private readonly reservations: Reservations;
  private readonly now: () => number;
  private readonly openEpochAfterConflicts: number;

  constructor(private readonly options: AppenderOptions) {
    this.now = options.now ?? Date.now;
    this.queue = new CommitQueue(
      (topic, partition, retentionHours, records, append) =>
        this.commitSegment(topic, partition, retentionHours, records, append),
      {
        maxSegmentRecords: options.maxSegmentRecords ?? 5_000,
        maxSegmentBytes: options.maxSegmentBytes ?? 4 * 1024 * 1024,
      },
    );
    this.openEpochAfterConflicts = options.openEpochAfterConflicts ?? OPEN_EPOCH_AFTER_CONFLICTS;
    this.reservations = new Reservations(options.dynamo, options.table, this.now);
    this.heads = new HeadCache(options.dynamo, options.table, options.headCacheMs, this.now);
  }

  /**
   * Appends `records` to one partition as a contiguous run of offsets and
   * resolves once they are durably committed.
   *
   * @example
   * const { baseOffset } = await appender.append('orders', 0, 168, [record]);
   */
  append(...append: Parameters<CommitQueue['append']>): Promise<AppendResult> {
    // Through the group commit, which calls back `commitSegment` once per coalesced segment.
    return this.queue.append(...append);
  }

  /** Encodes, stores (S3 first when large) and commits one segment; returns its base offset. */
  private async commitSegment(
    topic: string,
    partition: number,
    retentionHours: number,
    records: SegmentRecord[],
    options: AppendOptions,
  ): Promise<number> {
    const pk = partitionKey(topic, partition);
    const segmentId = options.segmentId ?? newSegmentId();
    const expiresAt = this.expiresAt(retentionHours);
    const { segment, inline } = encodeForLog(records, {
      pk,
      segmentId,
      expiresAt,
      inlineThresholdBytes: this.options.inlineThresholdBytes,
      codec: this.options.codec ?? 'none',
    });
    const s3Key = inline ? undefined : await this.options.segments.put(topic, partition, segment.bytes);
    const commit: Commit = {
      topic,
      partition,
      pk,
      segment,
      segmentId,
      s3Key,
      expiresAt,
      uploadedAt: this.now(),
      deadline: options.deadline,
    };
    // Optimistic while the partition is calm, reserved while it is crowded (docs/adr/0011).
    for (;;) {
      this.checkTime(commit);
      if (this.reserving.has(pk)) {
        const base = await this.commitReserved(commit);
        if (base !== undefined) return base;
        this.reserving.delete(pk);
      }
      const base = await this.commitOptimistic(commit);
      if (base !== 'reserved') return base;
      this.reserving.add(pk);
    }
  }

  /**
   * Commits at the head with a conditional put (ADR 0001). Returns
   * 'reserved' when the partition is in a reserved epoch, where a commit
   * needs a reservation; opens one itself after losing a few races.
   */
  private async commitOptimistic(commit: Commit): Promise<number | 'reserved'> {
    const { pk, segment, segmentId } = commit;
    // The head of a write whose answer was lost, until something proves it did not land.
    let unknownAt: number | undefined;
    let lostHere = false;
    let top = await this.heads.top(pk);
    if (top.reserved) return 'reserved';
    let head = top.head;
    for (let attempt = 1; ; attempt++) {
      this.checkTime(commit, unknownAt);
      // Only a writer that knows where all its tries went may open an epoch: a lost try could land at the head.
      const opens = (this.lostRaces.get(pk) ?? 0) >= this.openEpochAfterConflicts && unknownAt === undefined;
      const item = segmentItem(pk, head, segment, segmentId, commit.expiresAt, {
        s3Key: commit.s3Key,
        rt: opens ? this.now() : undefined,
      });
      try {
        //   head h ──► PutItem(sk = h) if no item at (pk, h)
        //   ├─ ok:       committed; offsets h .. h+count-1 are ours, the head is h+count
        //   ├─ conflict: someone committed at h first; unless that item is ours
        //   │            (an earlier try whose answer was lost), re-read the head
        //   └─ unknown:  the write may or may not have landed; retry at the same h,
        //                where a conflict with our own segmentId proves it landed
        await this.putSegment(item);
        await this.committedAtHead(pk, item.last, opens, lostHere);
        return head;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) {
          const winner = conflictingItem(error);
          if (winner.id === segmentId) {
            await this.committedAtHead(pk, item.last, winner.opened, lostHere);
            return head;
          }
          // Someone else's item is at `head`: ours is not there, and a lost write to it can never land.
          if (unknownAt === head) unknownAt = undefined;
          this.heads.forget(pk);
          if (winner.opened && unknownAt === undefined) return 'reserved';
          lostHere = true;
          this.lostRaces.set(pk, (this.lostRaces.get(pk) ?? 0) + 1);
          // A lost race is billed as a write: the metric shows when writers crowd a partition.
          (this.options.metrics ?? NO_METRICS).appendConflict(attempt < this.options.attempts);
          if (attempt >= this.options.attempts) {
            this.fail(
              `Partition ${commit.partition} of topic "${commit.topic}" is busy; retry the request.`,
              unknownAt,
              error,
            );
          }
          if (opens && winner.last !== undefined) {
            // A would-be opener goes straight to the winner's end: unlike the crowd, which backs off and
            // re-reads the head, it is there first, so the epoch opens within a round trip or two.
            head = winner.last + 1;
            continue;
          }
          await sleep(backoffMs(attempt));
          top = await this.heads.top(pk);
          if (top.reserved && unknownAt === undefined) return 'reserved';
          head = top.head;
        } else {
          // A request DynamoDB refused as malformed (not throttled) fails the same way every time.
          if (isPermanentRefusal(error)) throw error;
          // Refused by throttling, the write did not land; otherwise its answer is unknown: keep
          // `head` so the next try detects our own commit.
          if (!isStorageThrottle(error)) unknownAt = head;
          if (attempt >= this.options.attempts)
            this.fail('The log could not be written; retry the request.', unknownAt, error);
          await sleep(backoffMs(attempt));
        }
      }
    }
  }

  /** Puts a segment where no item is yet; a conflict returns the item there (`conflictingItem`). */
  private async putSegment(item: SegmentItem, abortSignal?: AbortSignal): Promise<void> {
    await this.options.dynamo.send(
      new PutCommand({
        TableName: this.options.table,
        Item: item,
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
      { abortSignal },
    );
  }

  /** After a commit at the head: remember the new head, or start the counter of the epoch it opened. */
  private async committedAtHead(pk: string, last: number, opened: boolean, lostHere: boolean): Promise<void> {
    // An append that won at once ends the streak; one that lost on the way carries it to the next append.
    if (!lostHere || opened) this.lostRaces.delete(pk);
    if (!opened) {
      this.heads.set(pk, last + 1);
      return;
    }
    this.reserving.add(pk);
    this.reservedEnds.set(pk, { end: last + 1, aloneStreak: 0 });
    try {
      await this.reservations.start(pk, last + 1);
    } catch {
      // Committed already: the next writer that finds no counter starts it (see `recover`).
    }
  }

  /**
   * Reserves the segment's offsets from the epoch's counter and commits at
   * them; no other writer can be there. Undefined when the epoch is over.
   */
  private async commitReserved(commit: Commit): Promise<number | undefined> {
    const { pk, segment } = commit;
    for (let attempt = 1; ; attempt++) {
      this.checkTime(commit);
      let reservation: Reservation | undefined;
      try {
        reservation = await this.reservations.reserve(pk, segment.count);
        // No counter: finish the open or close another writer began, then reserve again or commit optimistically.
        if (!reservation && (await this.recover(pk, commit.expiresAt)) === 'optimistic') return undefined;
      } catch (error) {
        // A lost answer may have reserved a range: a hole no one commits, which readers settle (ADR 0011).
        // Nothing of this append is committed yet, so any other failure is retried as it is.
        if (isPermanentRefusal(error)) throw error;
        if (attempt >= this.options.attempts)
          this.fail('The log could not be written; retry the request.', undefined, error);
        await sleep(backoffMs(attempt));
        continue;
      }
      if (!reservation) continue;
      const base = await this.commitAt(commit, reservation);
      (this.options.metrics ?? NO_METRICS).reservedAppend();
      // No one else reserved since our last reservation, a few times in a row: the crowd is gone.
      const alone = this.reservedEnds.get(pk)?.end === base;
      const aloneStreak = alone ? (this.reservedEnds.get(pk)?.aloneStreak ?? 0) + 1 : 0;
      this.reservedEnds.set(pk, { end: base + segment.count, aloneStreak });
      const age = this.now() - reservation.since;
      if ((aloneStreak >= CALM_RESERVATIONS && age >= EPOCH_MIN_MS) || (alone && age > EPOCH_MS))
        await this.closeEpoch(pk, commit.expiresAt);
      return base;
    }
  }

  /** Puts the segment at its reserved offsets, or a gap there when it cannot in time. */
  private async commitAt(commit: Commit, reservation: Reservation): Promise<number> {
    const { pk, segment, segmentId } = commit;
    const { base } = reservation;
    const item = segmentItem(pk, base, segment, segmentId, commit.expiresAt, {
      s3Key: commit.s3Key,
      rt: reservation.reservedAt,
    });
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.options.attempts && !this.tooLate(commit); attempt++) {
      const remaining = reservation.commitBy - this.now();
      if (remaining <= 0) break;
      try {
        // Aborted at the commit deadline: no try leaves after it, so readers may settle the hole later.
        await this.putSegment(item, AbortSignal.timeout(remaining));
        return base;
      } catch (error) {
        lastError = error;
        if (error instanceof ConditionalCheckFailedException) {
          if (conflictingItem(error).id === segmentId) return base;
          break;
        }
        if (isPermanentRefusal(error)) break;
        await sleep(backoffMs(attempt));
      }
    }
    // Give the range up with a gap, so readers need not wait for the settling time; a gap that
    // finds our own segment there proves the commit landed after all.
    let gap: Awaited<ReturnType<Reservations['putGap']>>;
    try {
      gap = await this.reservations.putGap(pk, base, item.last, {
        rt: reservation.reservedAt,
        expiresAt: commit.expiresAt,
      });
    } catch (error) {
      this.fail('The log could not be written; retry the request.', base, error);
    }
    if (!gap.placed && gap.id === segmentId) return base;
    if (isPermanentRefusal(lastError)) throw lastError;
    return this.fail('The log could not be written in time; retry the request.', undefined, lastError);
  }

  /**
   * The counter is gone (the epoch closed) or was never started (its
   * opener stopped right after its commit): finish what the other writer
   * began. Returns how to commit now.
   */
  private async recover(pk: string, expiresAt: number): Promise<'reserved' | 'optimistic'> {
    const { dynamo, table } = this.options;
    const [top, counter] = await Promise.all([readTop(dynamo, table, pk), this.reservations.counter(pk)]);
    if (counter.next !== undefined) return 'reserved';
    if (!top.item || !top.reserved) return 'optimistic';
    if (counter.end !== undefined && top.item.sk < counter.end) {
      // Closed, but its closing gap is missing: put it, then commit after it.
      await this.reservations.putGap(pk, counter.end, counter.end, {
        rt: this.now(),
        expiresAt,
        closes: true,
      });
      return 'optimistic';
    }
    await this.reservations.start(pk, top.item.last + 1);
    return 'reserved';
  }

  /** Ends the epoch: the counter stops, and a closing gap above every reservation lets optimistic commits go on. */
  private async closeEpoch(pk: string, expiresAt: number): Promise<void> {
    this.reserving.delete(pk);
    try {
      const end = await this.reservations.close(pk);
      if (end === undefined) return;
      await this.reservations.putGap(pk, end, end, { rt: this.now(), expiresAt, closes: true });
      this.heads.set(pk, end + 1);
    } catch {
      // The append is committed already; whoever comes next finishes the close (see `recover`).
    }
  }

  /** Throws once the commit may no longer be attempted. */
  private checkTime(commit: Commit, unknownAt?: number): void {
    if (this.tooLate(commit)) this.fail('The append took too long to commit; retry the request.', unknownAt);
  }

  private tooLate(commit: Commit): boolean {
    const now = this.now();
    return (
      (commit.s3Key !== undefined && now - commit.uploadedAt > COMMIT_DEADLINE_MS) ||
      (commit.deadline !== undefined && now > commit.deadline)
    );
  }

  /** Fails the append: CommitUnknownError when a write at `unknownAt` may have landed. */
  private fail(message: string, unknownAt: number | undefined, cause?: unknown): never {
    const Failure = unknownAt === undefined ? UnavailableError : CommitUnknownError;
    throw new Failure(message, 1, { cause });
  }

  private expiresAt(retentionHours: number): number {
    return Math.ceil(this.now() / 1000) + retentionHours * 3600;
  }
}

/**
 * Races lost in a row, across appends, after which a writer opens a
 * reserved epoch: one lost race happens between two writers; two in a row
 * mean a crowd.
 */
const OPEN_EPOCH_AFTER_CONFLICTS = 2;

/** Reservations in a row with no one else's in between after which a writer closes the epoch. */
const CALM_RESERVATIONS = 2;

/**
 * 96 random bits, base64url (16 characters): ample to tell our own commit
 * from another writer's, in a third of a UUID's bytes (every write pays for them).
 */
function newSegmentId(): string {
  return randomBytes(12).toString('base64url');
}

/** Exponential backoff with full jitter, capped: spreads contending writers apart. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(200, 5 * 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
