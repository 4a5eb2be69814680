import { randomUUID } from 'node:crypto';
import { OffsetOutOfRangeError } from '../errors';
import { MAX_EVENTS_RESPONSE_BYTES, renderEvents } from '../events/event-view';
import type { Log } from '../log/log';
import type { ReadResult } from '../log/reader';
import type { DeliveryObserver } from '../observability/metrics';
import type { SubscriptionRegistry } from '../registry/subscription-registry';
import type { TopicRegistry } from '../registry/topic-registry';
import { type Routing, routePage, routingOf } from '../routing/route';
import type { RouteSource, TopicTargets } from '../routing/topic-target';
import type { LogRecord } from '../segment/codec';
import { type BackoffPolicy, DEFAULT_BACKOFF } from './backoff';
import { cursorGroup, initializeCursor } from './cursor';
import {
  type CommitUpdate,
  type CursorRef,
  type CursorState,
  type CursorStore,
  LEASE_MS,
  leaseIsLive,
} from './cursor-store';
import type { DeadLetters } from './dead-letters';
import { type DeliveryAction, decide } from './decide';
import type { DelayedWaker } from './delayed-waker';
import { type Heartbeat, timerHeartbeat } from './heartbeat';
import { armLeaseWake } from './lease-wake';
import { deadLetterTopic, type StoredSubscription, type TopicTarget } from './subscription';
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
  /**
   * Arms a wake per lease taken, due once it would lapse, so that a partition whose holder dies is taken
   * over even if nothing else wakes it (docs/adr/0019). Without it, only the sweep does.
   */
  readonly delayedWaker?: DelayedWaker;
  readonly backoff?: BackoffPolicy;
  /** Bytes of events per batch, at most: a Lambda payload is at most 6 MB. @default 3 MiB */
  readonly maxBatchBytes?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** How long a lease lasts unless renewed. @default LEASE_MS (10 s) */
  readonly leaseMs?: number;
  /** Renews the lease during a long invocation, every third of `leaseMs`. @default timers */
  readonly heartbeat?: Heartbeat;
  readonly random?: () => number;
  readonly onError?: (message: string, details: Record<string, unknown>) => void;
  /** Told what was delivered and where the group stands (the bus's metrics). */
  readonly observer?: DeliveryObserver;
  /** Appends to topic targets (docs/adr/0020); without it, a subscription with one cannot be delivered. */
  readonly topicTargets?: TopicTargets;
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

/** Compiled routings one deliverer keeps (the oldest goes first). */
const ROUTINGS_KEPT = 1_000;

/** Time kept back at the end of a run for the last commit and the hand-off. */
const RUN_MARGIN_MS = 5_000;

/** One run of one cursor: what it delivers, and where it stands. The steps of the pipeline read and move it. */
interface Run {
  readonly ref: CursorRef;
  readonly group: string;
  readonly topicName: string;
  readonly retentionHours: number;
  readonly subscription: StoredSubscription;
  /** The function or webhook invoked; a topic target is appended to instead (`sendToTopic`). */
  readonly target?: DeliveryTargetClient;
  /** The subscription's filter and transform, compiled once per deliverer; undefined without them. */
  readonly routing?: Routing;
  /** A redrive delivers dead letters, which passed the filter once already. */
  readonly redrive: boolean;
  readonly owner: string;
  /** Epoch ms after which the run hands its work on. */
  readonly deadline: number;
  /** The cursor as this run last wrote or read it. */
  state: CursorState;
  /** The end last read (or told by the stream); read again only once the cursor reaches it. */
  end: number;
  /** Smaller batches while a failing batch is bisected; undefined delivers full batches. */
  bisect?: number;
  /** An at-most-once failure, noted with the next commit. */
  pendingError?: string;
  /** The next batch, read while the current one is delivered. */
  prefetched?: { from: number; limit: number; read: Promise<ReadResult> };
  /** The first undelivered event last read, for the age of the group's oldest undelivered event. */
  head?: { offset: number; timestamp: number };
  delivered: number;
  batches: number;
}

/** Events read for the next batch, and the batch as the target gets them. */
interface Page {
  readonly records: LogRecord[];
  readonly batch: OutgoingBatch;
  /** The offset after the batch's last event. */
  readonly next: number;
  /** Set when the batch's one event failed its transform: the target is not invoked, and this is the error. */
  readonly failure?: string;
}

/** Events a filtered subscription reads per page: a group that wants few events reads and commits past many at once. */
const FILTERED_PAGE_EVENTS = 1_000;

/** What a step tells the loop: go on to the next step, look again from the top, or end the run. */
type Step = 'go' | 'again' | DeliveryRunResult;

/** A step that moved the cursor before it had a batch: the loop starts over from the new position. */
function again(step: Step): Exclude<Step, 'go'> {
  return step === 'go' ? 'again' : step;
}

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
 *   everything before the lowest failed offset. A throttling target (429,
 *   503, Lambda's throttling) gets the whole batch again after its
 *   `Retry-After`, or after backoff; the rules are `decide`'s (decide.ts).
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
  private readonly leaseMs: number;
  private readonly heartbeat: Heartbeat;
  private readonly routings = new Map<string, Routing | undefined>();

  constructor(private readonly options: DelivererOptions) {
    this.now = options.now ?? Date.now;
    this.leaseMs = options.leaseMs ?? LEASE_MS;
    this.heartbeat = options.heartbeat ?? timerHeartbeat;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  /**
   * Delivers `ref` for at most `budgetMs`: a pipeline run once per batch —
   * hold the lease, read a page, invoke the target, decide, commit.
   */
  async deliver(ref: CursorRef, budgetMs: number): Promise<DeliveryRun> {
    const run = await this.open(ref, budgetMs);
    if (!run) return { result: 'no-subscription', delivered: 0, batches: 0 };
    for (;;) {
      let step = await this.hold(run);
      if (step === 'again') continue;
      if (step !== 'go') return this.ended(run, step);
      const page = await this.readPage(run);
      if (page === 'again') continue;
      if (typeof page === 'string') return this.ended(run, page);
      step =
        run.subscription.target.type === 'topic'
          ? await this.sendToTopic(run, page)
          : run.subscription.delivery === 'at-most-once'
            ? await this.sendAtMostOnce(run, page)
            : await this.sendAtLeastOnce(run, page);
      if (step !== 'go' && step !== 'again') return this.ended(run, step);
    }
  }

  /** The run's subscription, topic and cursor; undefined when there is no subscription (or cursor) to deliver. */
  private async open(ref: CursorRef, budgetMs: number): Promise<Run | undefined> {
    const { group, redrive } = cursorGroup(ref.cursor);
    // A subscription never changes once created; whether it still exists, the cursor says (see cursorOf).
    const subscription = await this.options.subscriptions.findRecent(group);
    if (!subscription) return undefined;
    const topicName = redrive ? deadLetterTopic(group) : subscription.topic;
    const topic = await this.options.topics.find(topicName);
    if (!topic || ref.partition >= topic.partitions) return undefined;
    const deadline = this.now() + budgetMs - RUN_MARGIN_MS;
    const state = await this.cursorOf(ref, subscription);
    if (!state) return undefined;
    return {
      ref,
      group,
      topicName,
      retentionHours: topic.retentionHours,
      subscription,
      target: subscription.target.type === 'topic' ? undefined : this.options.targetFor(subscription),
      routing: this.routingOf(subscription),
      redrive,
      owner: randomUUID(),
      deadline,
      state,
      end: ref.end === undefined ? -1 : Math.min(ref.end, state.until ?? Number.POSITIVE_INFINITY),
      delivered: 0,
      batches: 0,
    };
  }

  /** A subscription's routing, compiled once per subscription (it never changes once created). */
  private routingOf(subscription: StoredSubscription): Routing | undefined {
    const key = `${subscription.group}@${subscription.createdAt}`;
    if (!this.routings.has(key)) {
      if (this.routings.size >= ROUTINGS_KEPT)
        this.routings.delete(this.routings.keys().next().value as string);
      this.routings.set(key, routingOf(subscription));
    }
    return this.routings.get(key);
  }

  /** The run's answer; where the group stands goes to the observer unless the run never held the cursor. */
  private ended(run: Run, result: DeliveryRunResult): DeliveryRun {
    if (result !== 'no-subscription' && result !== 'held') {
      const lag = Math.max(0, run.end - run.state.committed);
      const oldest = run.head?.offset === run.state.committed ? run.head.timestamp : undefined;
      this.options.observer?.runEnded(run.group, lag, oldest, this.now());
    }
    return { result, delivered: run.delivered, batches: run.batches };
  }

  /**
   * The first step of each batch: ends the run when another holds the
   * cursor, nothing is due or time is up; takes the lease; waits for a
   * retry due within the run.
   */
  private async hold(run: Run): Promise<Step> {
    const held = run.state.leaseOwner === run.owner;
    if (!held && leaseIsLive(run.state, this.now())) return 'held';
    if (run.state.committed >= run.end) run.end = await this.endOf(run.state);
    const due = run.state.retryAt ?? 0;
    if (run.state.committed >= run.end || due > run.deadline) {
      if (!held) return 'caught-up';
      const released = await this.release(run);
      if (released === undefined) return 'held';
      if (released !== 'released') {
        run.state = released;
        return 'again';
      }
      // An event committed while this run held the lease woke nobody: look again after letting go.
      const fresh = await this.options.cursors.read(run.ref);
      if (!fresh) return 'no-subscription';
      run.state = fresh;
      run.end = await this.endOf(fresh);
      if (fresh.committed < run.end && (fresh.retryAt ?? 0) <= run.deadline) return 'again';
      return 'caught-up';
    }
    if (this.now() >= run.deadline) {
      if (held && (await this.release(run)) !== 'released') return 'held';
      await this.options.waker.wake([run.ref]);
      return 'handed-off';
    }
    if (!held) {
      const taken = await this.options.cursors.acquireLease(run.ref, run.owner, this.now(), this.leaseMs);
      if (!taken) return 'held';
      run.state = taken;
      await this.armWake(taken);
      return 'again';
    }
    if (due > this.now()) await this.sleep(due - this.now());
    // A lease past half its time (a slow read, a long wait) is renewed before the invocation; a commit renews it too.
    if ((run.state.leaseExpires ?? 0) - this.now() < this.leaseMs / 2 && !(await this.renew(run)))
      return 'held';
    return 'go';
  }

  /**
   * Arms the lease's wake. One that cannot be armed is reported, and the run goes on: delivery does not
   * wait on its safety net, and the sweep remains behind it.
   */
  private async armWake(taken: CursorState): Promise<void> {
    if (!this.options.delayedWaker) return;
    try {
      await armLeaseWake(this.options.delayedWaker, taken);
    } catch (error) {
      this.options.onError?.('lease wake not armed', {
        cursor: taken.cursor,
        partition: taken.partition,
        error: (error as Error).message,
      });
    }
  }

  /** Lets the lease go: 'released', or the state to go on from when a reset came first, or undefined when lost. */
  private async release(run: Run): Promise<'released' | CursorState | undefined> {
    const current = run.state;
    const ok = await this.options.cursors.commitOffset(current, run.owner, {
      next: current.committed,
      attempts: current.attempts,
      retryAt: current.retryAt,
      lastError: run.pendingError ?? current.lastError,
      throttledUntil: current.throttledUntil,
    });
    run.pendingError = undefined;
    return ok ? 'released' : this.adopt(current, run.owner);
  }

  /**
   * Reads the next batch from the committed offset (or takes the one read
   * ahead); steps over expired events and gaps. An event that has failed
   * before is retried alone.
   */
  private async readPage(run: Run): Promise<Page | Exclude<Step, 'go'>> {
    const { state, ref } = run;
    const intended = state.appendingUntil;
    const limit =
      // A topic target's batch in flight is read again as it was fixed, to be appended exactly once.
      intended !== undefined
        ? intended - state.committed
        : Math.min(
            // A throttled batch goes again whole: the target was busy, no event in it failed.
            state.attempts > 0 && state.throttledUntil === undefined
              ? 1
              : (run.bisect ?? run.subscription.batchSize),
            run.end - state.committed,
          );
    const readLimit = intended === undefined ? this.pageEvents(run, state.committed, limit) : limit;
    let result: ReadResult;
    try {
      const ahead =
        run.prefetched?.from === state.committed && run.prefetched.limit === readLimit
          ? run.prefetched.read
          : undefined;
      run.prefetched = undefined;
      result = await (ahead ?? this.read(run, state.committed, readLimit));
    } catch (error) {
      if (!(error instanceof OffsetOutOfRangeError)) throw error;
      // Retention removed events this group had not read: go on from the oldest retained one.
      const skipped = `${error.startOffset - state.committed} events expired before delivery (offsets ${state.committed} to ${error.startOffset - 1})`;
      this.options.onError?.('events expired before delivery', {
        cursor: ref.cursor,
        partition: ref.partition,
        skipped,
      });
      return again(await this.moveTo(run, { next: error.startOffset, lastError: skipped }));
    }
    let { records } = result;
    if (records.length === 0 && result.nextOffset > state.committed) {
      // Only gaps (offsets that hold no event, docs/adr/0011): step over them.
      return again(await this.moveTo(run, { next: result.nextOffset }));
    }
    if (records.length === 0) {
      // Waiting at offsets reserved and not committed yet (their commit wakes the group again), or the
      // head said there are events and the read found none: let go and let the sweep look again.
      this.options.onError?.('no events where the head said there are', {
        cursor: ref.cursor,
        partition: ref.partition,
        committed: state.committed,
        end: run.end,
      });
      await this.release(run);
      return 'caught-up';
    }
    run.head = { offset: records[0].offset, timestamp: records[0].timestamp };
    let routedNext: number | undefined;
    if (run.routing) {
      const routed = await routePage(
        run.routing,
        records,
        { topic: run.topicName, partition: ref.partition, skipFilter: run.redrive },
        limit,
      );
      if (routed.filtered > 0) this.options.observer?.filtered(run.group, routed.filtered);
      // Nothing here for this group: commit past the page without invoking anyone.
      if (routed.records.length === 0) return again(await this.moveTo(run, { next: routed.next }));
      if (routed.failure !== undefined) {
        const [record] = routed.records;
        run.batches++;
        return {
          records: routed.records,
          batch: this.batchOf(run.subscription.group, run.topicName, ref.partition, [record]),
          next: record.offset + 1,
          failure: routed.failure,
        };
      }
      records = routed.records;
      routedNext = routed.next;
    }
    const batch = this.batchOf(run.subscription.group, run.topicName, ref.partition, records);
    // All routed events fit: the batch also covers the filtered events up to where routing stopped.
    const next =
      routedNext !== undefined && batch.lastOffset === records.at(-1)?.offset
        ? routedNext
        : batch.lastOffset + 1;
    // Only what fits a payload is sent; the rest is the next batch's.
    records = records.filter((record) => record.offset < next);
    run.batches++;
    // A full batch (or a routed page decided whole) with more behind it: read the next page while the
    // target works on this one. It is used only if this batch succeeds whole, so order and at-least-once
    // are as without it.
    if (
      (records.length === limit || (run.routing && next === routedNext)) &&
      next < run.end &&
      run.subscription.delivery === 'at-least-once'
    ) {
      const nextLimit = this.pageEvents(
        run,
        next,
        Math.min(run.bisect ?? run.subscription.batchSize, run.end - next),
      );
      const read = this.read(run, next, nextLimit);
      read.catch(() => {});
      run.prefetched = { from: next, limit: nextLimit, read };
    }
    return { records, batch, next };
  }

  /** Events to read for a page of `limit` from `from`: a filter reads more than it sends, and commits past the events it leaves out a page at a time. */
  private pageEvents(run: Run, from: number, limit: number): number {
    return run.routing?.filter && !run.redrive
      ? Math.min(Math.max(limit, FILTERED_PAGE_EVENTS), run.end - from)
      : limit;
  }

  private read(run: Run, from: number, limit: number): Promise<ReadResult> {
    return this.options.log.read(run.topicName, run.ref.partition, from, limit, this.options.maxBatchBytes);
  }

  /** At most once: commits past the batch, then sends it once; a failure is only noted. */
  private async sendAtMostOnce(run: Run, page: Page): Promise<Step> {
    // The lease stays until the batch is sent, even when caught up: nobody may send the next one before.
    const moved = await this.advance(
      run,
      { next: page.next, lastError: run.pendingError },
      Number.POSITIVE_INFINITY,
    );
    if (!moved) return 'held';
    run.state = moved;
    run.pendingError = undefined;
    const outcome: DeliveryOutcome =
      page.failure === undefined ? await this.invoke(run, page) : { status: 'failed', error: page.failure };
    run.delivered += page.records.length;
    if (outcome.status !== 'delivered') {
      run.pendingError = truncateError(outcome.error);
      this.options.onError?.('at-most-once delivery failed; not retried', {
        cursor: run.ref.cursor,
        error: run.pendingError,
      });
    }
    return 'go';
  }

  /** At least once: invokes the target, decides what its outcome calls for (decide.ts), and does it. */
  private async sendAtLeastOnce(run: Run, page: Page): Promise<Step> {
    // An event whose transform failed fails as if its target had refused it: retried, then dead-lettered.
    const outcome: DeliveryOutcome =
      page.failure === undefined ? await this.invoke(run, page) : { status: 'failed', error: page.failure };
    return this.settle(run, page, outcome);
  }

  /**
   * A topic target, exactly once (docs/adr/0020): the batch's source range
   * is fixed on the cursor under the lease, then appended idempotently by
   * that range, then committed past. Whoever holds the cursor next — this run
   * after a failure, another after a crash — finds the range and appends
   * exactly it again, and the append finds what landed. An event the target
   * topic refuses (its schema, its limits) ends the batch before it, and is
   * dead-lettered once it comes first.
   */
  private async sendToTopic(run: Run, page: Page): Promise<Step> {
    const targets = this.options.topicTargets;
    if (!targets) throw new Error('This deliverer has no topic targets.');
    if (page.failure !== undefined) return this.settle(run, page, { status: 'failed', error: page.failure });
    const intended = run.state.appendingUntil;
    const source = (until: number): RouteSource => ({
      scope: `${run.ref.cursor}@${run.subscription.createdAt}#${run.state.generation}`,
      topic: run.topicName,
      partition: run.ref.partition,
      from: run.state.committed,
      until,
    });
    const admission = await targets.admit(
      run.subscription.target as TopicTarget,
      source(page.next),
      page.records,
    );
    const { refused, topic } = admission;
    if (!topic || (refused && intended === undefined && refused.offset === page.records[0].offset)) {
      return this.settle(run, page, {
        status: 'refused',
        error: refused?.error ?? 'the target topic is gone',
      });
    }
    if (intended !== undefined && page.next !== intended) {
      // Only a transform that answers differently the second time (a timeout, `$random()`) gets here.
      return this.settle(run, page, {
        status: 'unavailable',
        error: `the batch in flight (offsets ${run.state.committed} to ${intended - 1}) read differently the second time`,
      });
    }
    // A batch already fixed goes as it is (it was admitted then); a new one stops before a refused event.
    const next = intended ?? refused?.offset ?? page.next;
    const batch = { ...page, records: page.records.filter((record) => record.offset < next), next };
    if (intended === undefined) {
      const { state } = run;
      const fixed = await this.moveTo(run, {
        next: state.committed,
        attempts: state.attempts,
        lastError: state.lastError,
        appendingUntil: next,
      });
      if (fixed !== 'go') return fixed;
    }
    const ready = admission.ready.filter((event) => event.offset < next);
    const outcome = await this.whileHeld(run, () => targets.append(topic, source(next), ready));
    return this.settle(run, batch, outcome);
  }

  /** Decides what a batch's outcome calls for (decide.ts), and does it. */
  private async settle(run: Run, page: Page, outcome: DeliveryOutcome): Promise<Step> {
    const action = decide(outcome, {
      committed: run.state.committed,
      attempts: run.state.attempts,
      batch: { count: page.records.length, next: page.next, firstTimestamp: page.records[0].timestamp },
      subscription: run.subscription,
      now: this.now(),
      backoff: this.backoff,
      jitter: outcome.status === 'delivered' ? 0 : this.random(),
    });
    return this.apply(run, page, action);
  }

  /** Carries out a decision: the commit, the bisection, the retry or the dead letter. */
  private async apply(run: Run, page: Page, action: DeliveryAction): Promise<Step> {
    const { state } = run;
    switch (action.kind) {
      case 'bisect':
        run.bisect = action.batchSize;
        return 'go';
      case 'commit': {
        const done = page.records.filter((record) => record.offset < action.next);
        run.delivered += done.length;
        this.options.observer?.delivered(run.group, done, this.now());
        // A lone event that had failed went through: back to full batches.
        if (!action.failure && state.attempts > 0) run.bisect = undefined;
        const { failure } = action;
        return this.moveTo(
          run,
          failure
            ? {
                next: action.next,
                attempts: failure.attempts,
                retryAt: failure.retryAt,
                lastError: failure.error,
              }
            : { next: action.next },
        );
      }
      case 'retry': {
        const { failure } = action;
        return this.moveTo(run, {
          next: state.committed,
          attempts: failure.attempts,
          retryAt: failure.retryAt,
          lastError: failure.error,
        });
      }
      case 'wait': {
        const { failure } = action;
        this.options.observer?.throttled(run.group);
        return this.moveTo(run, {
          next: state.committed,
          attempts: failure.attempts,
          retryAt: failure.retryAt,
          lastError: failure.error,
          throttledUntil: failure.retryAt,
        });
      }
      case 'dead-letter': {
        const record = await this.sourceOf(run, page.records[0]);
        // A holder that stalled while another took the lease over must not add a dead letter the other
        // may add too: the append follows a check of the lease, and the commit past it names the epoch.
        if (!(await this.renew(run))) return 'held';
        await this.options.deadLetters.append(
          run.subscription.group,
          { topic: run.topicName, partition: run.ref.partition, retentionHours: run.retentionHours },
          record,
          { error: action.error, attempts: action.attempts },
        );
        this.options.observer?.deadLettered(run.group);
        this.options.onError?.('event dead-lettered', {
          cursor: run.ref.cursor,
          partition: run.ref.partition,
          offset: record.offset,
          attempts: action.attempts,
          error: action.error,
        });
        run.bisect = undefined;
        return this.moveTo(
          run,
          action.resumeAt === undefined
            ? { next: record.offset + 1 }
            : { next: record.offset + 1, retryAt: action.resumeAt, throttledUntil: action.resumeAt },
        );
      }
    }
  }

  /** Invokes the target while holding the cursor. */
  private invoke(run: Run, page: Page): Promise<DeliveryOutcome> {
    const { target } = run;
    if (!target) throw new Error('A topic target is appended to, not invoked.');
    return this.whileHeld(run, () => target.deliver(page.batch));
  }

  /** Runs `work`, renewing the lease while it lasts: a live holder keeps its cursor. */
  private async whileHeld<T>(run: Run, work: () => Promise<T>): Promise<T> {
    const stop = this.heartbeat(() => this.renew(run), this.leaseMs / 3);
    try {
      return await work();
    } finally {
      await stop();
    }
  }

  /**
   * The event as stored, for its dead letter: a transform or a target's key changed the one delivered,
   * and a redrive must route the original again.
   */
  private async sourceOf(run: Run, record: LogRecord): Promise<LogRecord> {
    if (!run.routing?.transform && !run.routing?.key) return record;
    const { records } = await this.read(run, record.offset, 1);
    return records[0]?.offset === record.offset ? records[0] : record;
  }

  /** Extends the run's lease from now; false when another took it over. */
  private async renew(run: Run): Promise<boolean> {
    const leaseExpires = this.now() + this.leaseMs;
    if (!(await this.options.cursors.renewLease(run.state, run.owner, this.now(), this.leaseMs)))
      return false;
    run.state = { ...run.state, leaseExpires };
    return true;
  }

  /** Commits and goes on from the new state; the run ends as 'held' when another took the cursor over. */
  private async moveTo(run: Run, update: Omit<CommitUpdate, 'leaseExpires'>): Promise<Step> {
    const moved = await this.advance(run, update, run.end);
    if (!moved) return 'held';
    run.state = moved;
    return 'go';
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

  /**
   * After a commit lost: a reset moved the cursor while this run still holds
   * the lease, so the run goes on from where the reset put it; undefined when
   * another holder took over (or the subscription was deleted).
   */
  private async adopt(state: CursorState, owner: string): Promise<CursorState | undefined> {
    const fresh = await this.options.cursors.read(state);
    return fresh?.leaseOwner === owner && fresh.leaseEpoch === state.leaseEpoch ? fresh : undefined;
  }

  /** Commits and renews the lease; the new state, the state a reset left, or undefined when taken over. */
  private async advance(
    run: Run,
    update: Omit<CommitUpdate, 'leaseExpires'>,
    end: number,
  ): Promise<CursorState | undefined> {
    const { state, owner } = run;
    // Caught up with nothing to retry: the commit lets the lease go too, saving a write per run.
    const release = update.next >= end && update.retryAt === undefined;
    // A retry waited for in this run keeps the lease through the wait: nothing else may deliver before it.
    const leaseExpires = release ? undefined : Math.max(this.now(), update.retryAt ?? 0) + this.leaseMs;
    const ok = await this.options.cursors.commitOffset(state, owner, { ...update, leaseExpires });
    if (!ok) return this.adopt(state, owner);
    return {
      ...state,
      committed: update.next,
      attempts: update.attempts ?? 0,
      retryAt: update.retryAt,
      lastError: update.lastError,
      throttledUntil: update.throttledUntil,
      appendingUntil:
        update.appendingUntil ?? (update.next === state.committed ? state.appendingUntil : undefined),
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
