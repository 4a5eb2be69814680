import { randomUUID } from 'node:crypto';
import { OffsetOutOfRangeError } from '../errors';
import { MAX_EVENTS_RESPONSE_BYTES, renderEvents } from '../events/event-view';
import type { Log } from '../log/log';
import type { ReadResult } from '../log/reader';
import type { DeliveryObserver } from '../observability/metrics';
import type { SubscriptionRegistry } from '../registry/subscription-registry';
import type { TopicRegistry } from '../registry/topic-registry';
import type { LogRecord } from '../segment/codec';
import { type BackoffPolicy, DEFAULT_BACKOFF, retryDelayMs } from './backoff';
import { cursorGroup, initializeCursor } from './cursor';
import { type CursorRef, type CursorState, type CursorStore, leaseIsLive } from './cursor-store';
import type { DeadLetters } from './dead-letters';
import { deadLetterTopic, type StoredSubscription } from './subscription';
import {
  type DeliveryOutcome,
  type DeliveryTargetClient,
  type OutgoingBatch,
  truncateError,
} from './targets/target';
import type { Waker } from './waker';

export interface DelivererOptions {
  readonly log: Log;
  readonly cursors: CursorStore;
  readonly subscriptions: SubscriptionRegistry;
  readonly topics: TopicRegistry;
  readonly deadLetters: DeadLetters;
  /** The client for a subscription's target. */
  readonly targetFor: (subscription: StoredSubscription) => DeliveryTargetClient;
  /** Hands work left at the end of a run to a fresh deliverer. */
  readonly waker: Waker;
  readonly backoff?: BackoffPolicy;
  /** Bytes of events per batch, at most: a Lambda payload is at most 6 MB. @default 3 MiB */
  readonly maxBatchBytes?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly onError?: (message: string, details: Record<string, unknown>) => void;
  /** Told what was delivered and where the group stands (the bus's metrics). */
  readonly observer?: DeliveryObserver;
}

export type DeliveryRunResult =
  /** Nothing left to deliver now (a retry may be due later; the sweep wakes it). */
  | 'caught-up'
  /** Someone else holds the cursor, or took it over. */
  | 'held'
  /** Out of time with work left: handed to a fresh deliverer. */
  | 'handed-off'
  /** No such subscription (deleted): nothing delivered. */
  | 'no-subscription';

export interface DeliveryRun {
  readonly result: DeliveryRunResult;
  /** Events the target accepted (or, at most once, was sent) in this run. */
  readonly delivered: number;
  /** Target invocations in this run. */
  readonly batches: number;
}

/** Time kept back at the end of a run for the last commit and the hand-off. */
const RUN_MARGIN_MS = 5_000;

/**
 * Delivers one cursor (a group-partition, or a group's redrive) while it has
 * events and time: takes the lease, reads a batch from the committed offset,
 * invokes the target, and commits under the lease (shared/delivery/cursor-store.ts).
 *
 * - At least once (the default): commit after the target succeeded. A batch
 *   that fails is halved until the failing event stands alone (bisection,
 *   without waiting); a lone failing event is retried after an exponential,
 *   jittered delay, and after `maxAttempts` (or once older than
 *   `maxAgeSeconds`) it goes to the group's dead-letter topic and the
 *   events behind it flow on. A failure list from the target commits
 *   everything before the lowest failed offset.
 * - At most once: commit before invoking, never retry.
 * - A retry due within the run's time is waited for here, so it happens on
 *   time; a later one is left to the sweep. Work left when time runs out is
 *   handed to a fresh deliverer through the waker.
 */
export class Deliverer {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly backoff: BackoffPolicy;

  constructor(private readonly options: DelivererOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  /** Delivers `ref` for at most `budgetMs`. */
  async deliver(ref: CursorRef, budgetMs: number): Promise<DeliveryRun> {
    const { group, redrive } = cursorGroup(ref.cursor);
    // A subscription never changes once created; whether it still exists, the cursor says (see cursorOf).
    const subscription = await this.options.subscriptions.findRecent(group);
    if (!subscription) return { result: 'no-subscription', delivered: 0, batches: 0 };
    const topicName = redrive ? deadLetterTopic(group) : subscription.topic;
    const topic = await this.options.topics.find(topicName);
    if (!topic || ref.partition >= topic.partitions)
      return { result: 'no-subscription', delivered: 0, batches: 0 };

    const deadline = this.now() + budgetMs - RUN_MARGIN_MS;
    const timeoutMs = subscription.timeoutSeconds * 1000;
    // The lease outlasts the run and its last invocation: a live holder never loses it.
    const leaseMs = budgetMs + timeoutMs;
    const target = this.options.targetFor(subscription);
    const owner = randomUUID();
    let delivered = 0;
    let batches = 0;
    // The first undelivered event last read, for the age of the group's oldest undelivered event.
    let head: { offset: number; timestamp: number } | undefined;
    let state = await this.cursorOf(ref, subscription);
    const run = (result: DeliveryRunResult): DeliveryRun => {
      if (state && result !== 'no-subscription' && result !== 'held') {
        const lag = Math.max(0, end - state.committed);
        const oldest = head?.offset === state.committed ? head.timestamp : undefined;
        this.options.observer?.runEnded(group, lag, oldest, this.now());
      }
      return { result, delivered, batches };
    };
    if (!state) return run('no-subscription');
    // The end last read (or told by the stream); read again only once the cursor reaches it.
    let end = ref.end === undefined ? -1 : Math.min(ref.end, state.until ?? Number.POSITIVE_INFINITY);
    // Smaller batches while a failing batch is bisected; undefined delivers full batches.
    let bisect: number | undefined;
    // An at-most-once failure, noted with the next commit.
    let pendingError: string | undefined;
    // The next batch, read while the current one is delivered.
    let prefetched: { from: number; limit: number; read: Promise<ReadResult> } | undefined;
    // Lets the lease go: 'released', or the state to go on from when a reset came first, or undefined when lost.
    const release = async (current: CursorState): Promise<'released' | CursorState | undefined> => {
      const ok = await this.options.cursors.commitOffset(current, owner, {
        next: current.committed,
        attempts: current.attempts,
        retryAt: current.retryAt,
        lastError: pendingError ?? current.lastError,
      });
      pendingError = undefined;
      return ok ? 'released' : this.adopt(current, owner);
    };

    for (;;) {
      const held = state.leaseOwner === owner;
      if (!held && leaseIsLive(state, this.now())) return run('held');
      if (state.committed >= end) end = await this.endOf(state);
      const due = state.retryAt ?? 0;
      if (state.committed >= end || due > deadline) {
        if (!held) return run('caught-up');
        const released = await release(state);
        if (released === undefined) return run('held');
        if (released !== 'released') {
          state = released;
          continue;
        }
        // An event committed while this run held the lease woke nobody: look again after letting go.
        const fresh = await this.options.cursors.read(ref);
        if (!fresh) return run('no-subscription');
        state = fresh;
        end = await this.endOf(state);
        if (state.committed < end && (state.retryAt ?? 0) <= deadline) continue;
        return run('caught-up');
      }
      if (this.now() >= deadline) {
        if (held && (await release(state)) !== 'released') return run('held');
        await this.options.waker.wake([ref]);
        return run('handed-off');
      }
      if (!held) {
        const taken = await this.options.cursors.acquireLease(ref, owner, this.now(), leaseMs);
        if (!taken) return run('held');
        state = taken;
        continue;
      }
      if (due > this.now()) await this.sleep(due - this.now());

      // The next batch; an event that has failed before is retried alone.
      const limit = Math.min(
        state.attempts > 0 ? 1 : (bisect ?? subscription.batchSize),
        end - state.committed,
      );
      let records: LogRecord[];
      let nextOffset: number;
      try {
        const ahead =
          prefetched?.from === state.committed && prefetched.limit === limit ? prefetched.read : undefined;
        prefetched = undefined;
        ({ records, nextOffset } = await (ahead ??
          this.options.log.read(
            topicName,
            ref.partition,
            state.committed,
            limit,
            this.options.maxBatchBytes,
          )));
      } catch (error) {
        if (!(error instanceof OffsetOutOfRangeError)) throw error;
        // Retention removed events this group had not read: go on from the oldest retained one.
        const skipped = `${error.startOffset - state.committed} events expired before delivery (offsets ${state.committed} to ${error.startOffset - 1})`;
        this.options.onError?.('events expired before delivery', {
          cursor: ref.cursor,
          partition: ref.partition,
          skipped,
        });
        const moved = await this.advance(
          state,
          owner,
          { next: error.startOffset, lastError: skipped },
          { leaseMs, end },
        );
        if (!moved) return run('held');
        state = moved;
        continue;
      }
      if (records.length === 0 && nextOffset > state.committed) {
        // Only gaps (offsets that hold no event, docs/adr/0011): step over them.
        const moved = await this.advance(state, owner, { next: nextOffset }, { leaseMs, end });
        if (!moved) return run('held');
        state = moved;
        continue;
      }
      if (records.length === 0) {
        // Waiting at offsets reserved and not committed yet (their commit wakes the group again), or the
        // head said there are events and the read found none: let go and let the sweep look again.
        this.options.onError?.('no events where the head said there are', {
          cursor: ref.cursor,
          partition: ref.partition,
          committed: state.committed,
          end,
        });
        await release(state);
        return run('caught-up');
      }
      head = { offset: records[0].offset, timestamp: records[0].timestamp };
      const batch = this.batchOf(subscription.group, topicName, ref.partition, records);
      const next = batch.lastOffset + 1;
      // Only what fits a payload is sent; the rest is the next batch's.
      records = records.filter((record) => record.offset < next);
      batches++;
      // A full batch with more behind it: read the next one while the target works on this one. It is
      // used only if this batch succeeds whole, so order and at-least-once are as without it.
      if (records.length === limit && next < end && subscription.delivery === 'at-least-once') {
        const read = this.options.log.read(topicName, ref.partition, next, limit, this.options.maxBatchBytes);
        read.catch(() => {});
        prefetched = { from: next, limit, read };
      }

      if (subscription.delivery === 'at-most-once') {
        // The lease stays until the batch is sent, even when caught up: nobody may send the next one before.
        const moved = await this.advance(
          state,
          owner,
          { next, lastError: pendingError },
          { leaseMs, end: Number.POSITIVE_INFINITY },
        );
        if (!moved) return run('held');
        state = moved;
        pendingError = undefined;
        const outcome = await target.deliver(batch);
        delivered += records.length;
        if (outcome.status !== 'delivered') {
          pendingError = truncateError(outcome.error);
          this.options.onError?.('at-most-once delivery failed; not retried', {
            cursor: ref.cursor,
            error: pendingError,
          });
        }
        continue;
      }

      const outcome: DeliveryOutcome = await target.deliver(batch);
      let moved: CursorState | undefined;
      if (outcome.status === 'delivered') {
        delivered += records.length;
        this.options.observer?.delivered(group, records, this.now());
        // A lone event that had failed went through: back to full batches.
        if (state.attempts > 0) bisect = undefined;
        moved = await this.advance(state, owner, { next }, { leaseMs, end });
      } else if (outcome.status === 'partial' && outcome.lowestFailed > state.committed) {
        // Everything before the lowest failed offset is done; that one has failed once.
        delivered += outcome.lowestFailed - state.committed;
        this.options.observer?.delivered(
          group,
          records.filter((record) => record.offset < outcome.lowestFailed),
          this.now(),
        );
        moved = await this.advance(
          state,
          owner,
          { next: outcome.lowestFailed, ...this.failure(1, outcome.error) },
          { leaseMs, end },
        );
      } else if (outcome.status === 'failed' && records.length > 1) {
        // Isolate the poison event: halve the batch and try again at once.
        bisect = Math.ceil(records.length / 2);
        continue;
      } else {
        const record = records[0];
        const attempts = state.attempts + 1;
        const tooOld =
          subscription.maxAgeSeconds !== undefined &&
          this.now() - record.timestamp > subscription.maxAgeSeconds * 1000;
        if (attempts >= subscription.maxAttempts || tooOld) {
          const error = truncateError(outcome.error);
          await this.options.deadLetters.append(
            subscription.group,
            { topic: topicName, partition: ref.partition, retentionHours: topic.retentionHours },
            record,
            { error, attempts },
          );
          this.options.observer?.deadLettered(group);
          this.options.onError?.('event dead-lettered', {
            cursor: ref.cursor,
            partition: ref.partition,
            offset: record.offset,
            attempts,
            error,
          });
          bisect = undefined;
          moved = await this.advance(state, owner, { next: record.offset + 1 }, { leaseMs, end });
        } else {
          moved = await this.advance(
            state,
            owner,
            { next: state.committed, ...this.failure(attempts, outcome.error) },
            { leaseMs, end },
          );
        }
      }
      if (!moved) return run('held');
      state = moved;
    }
  }

  /** The cursor, created where the subscription starts reading if this partition has none yet. */
  private async cursorOf(ref: CursorRef, subscription: StoredSubscription): Promise<CursorState | undefined> {
    const existing = await this.options.cursors.read(ref);
    if (existing || cursorGroup(ref.cursor).redrive) return existing;
    // No cursor: a partition never delivered to, or a subscription deleted (with its cursors) since it was
    // cached. Only a subscription read afresh may create one.
    if (!(await this.options.subscriptions.find(subscription.group))) return undefined;
    await initializeCursor(this.options.log, this.options.cursors, subscription, ref.partition);
    return this.options.cursors.read(ref);
  }

  /** Where the cursor's reading ends for now: the partition's end, or a redrive's bound. */
  private async endOf(state: CursorState): Promise<number> {
    const endOffset = await this.options.log.endOffset(state.topic, state.partition);
    return state.until === undefined ? endOffset : Math.min(endOffset, state.until);
  }

  private failure(attempts: number, error: string): { attempts: number; retryAt: number; lastError: string } {
    return {
      attempts,
      retryAt: this.now() + retryDelayMs(attempts, this.backoff, this.random),
      lastError: truncateError(error),
    };
  }

  /**
   * After a commit lost: a reset moved the cursor while this run still holds
   * the lease, so the run goes on from where the reset put it; undefined when
   * another holder took over (or the subscription was deleted).
   */
  private async adopt(state: CursorState, owner: string): Promise<CursorState | undefined> {
    const fresh = await this.options.cursors.read(state);
    return fresh?.leaseOwner === owner ? fresh : undefined;
  }

  /** Commits and renews the lease; the new state, the state a reset left, or undefined when taken over. */
  private async advance(
    state: CursorState,
    owner: string,
    update: { next: number; attempts?: number; retryAt?: number; lastError?: string },
    lease: { leaseMs: number; end: number },
  ): Promise<CursorState | undefined> {
    // Caught up with nothing to retry: the commit lets the lease go too, saving a write per run.
    const release = update.next >= lease.end && update.retryAt === undefined;
    const leaseExpires = release ? undefined : this.now() + lease.leaseMs;
    const ok = await this.options.cursors.commitOffset(state, owner, { ...update, leaseExpires });
    if (!ok) return this.adopt(state, owner);
    return {
      ...state,
      committed: update.next,
      attempts: update.attempts ?? 0,
      retryAt: update.retryAt,
      lastError: update.lastError,
      leaseOwner: release ? undefined : owner,
      leaseExpires,
    };
  }

  /** The batch as the target gets it: as many of `records` as fit a Lambda payload once rendered. */
  private batchOf(group: string, topic: string, partition: number, records: LogRecord[]): OutgoingBatch {
    const { json, count } = renderEvents(records, MAX_EVENTS_RESPONSE_BYTES);
    return {
      group,
      topic,
      partition,
      firstOffset: records[0].offset,
      lastOffset: records[count - 1].offset,
      // The events' JSON as readers get it, spliced in: targets get the bytes readers get.
      body: `{"group":${JSON.stringify(group)},"topic":${JSON.stringify(topic)},"partition":${partition},"events":${json}}`,
    };
  }
}
