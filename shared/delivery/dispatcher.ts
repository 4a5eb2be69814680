import type { Log } from '../log/log';
import { META_SK, parsePartitionKey, partitionKey } from '../log/partition-key';
import type { SegmentItem } from '../log/segment-item';
import type { SubscriptionRegistry } from '../registry/subscription-registry';
import type { TopicRegistry } from '../registry/topic-registry';
import { redriveCursor } from './cursor';
import { type CursorRef, type CursorStore, leaseIsLive } from './cursor-store';
import type { DelayedWaker, LeaseWake } from './delayed-waker';
import { decideLeaseWake, type LeaseWakeAction } from './lease-wake';
import { deadLetterTopic } from './subscription';
import type { Waker } from './waker';

/** A partition that has new segments, and the offset just past the last of them. */
export interface AppendedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly end: number;
}

/**
 * The partitions that new log items (the stream's inserted images) extend,
 * each with the end of its newest segment; meta items are not segments.
 *
 * @example
 * appendedPartitions([{ pk: 'orders#0', sk: 0, last: 4 }]); // [{ topic: 'orders', partition: 0, end: 5 }]
 */
export function appendedPartitions(
  items: readonly Partial<Pick<SegmentItem, 'pk' | 'sk' | 'last'>>[],
): AppendedPartition[] {
  const touched = new Map<string, AppendedPartition>();
  for (const { pk, sk, last } of items) {
    if (typeof pk !== 'string' || typeof sk !== 'number' || sk <= META_SK || typeof last !== 'number')
      continue;
    const end = Math.max(last + 1, touched.get(pk)?.end ?? 0);
    touched.set(pk, { ...parsePartitionKey(pk), end });
  }
  return [...touched.values()];
}

export interface DispatcherOptions {
  readonly log: Log;
  readonly subscriptions: SubscriptionRegistry;
  readonly topics: TopicRegistry;
  readonly cursors: CursorStore;
  readonly waker: Waker;
  /** Arms a lease's wake again when it is due while the lease lives on (docs/adr/0019). */
  readonly delayedWaker?: DelayedWaker;
  readonly now?: () => number;
}

/**
 * Decides which cursors have work and wakes a deliverer for each; it never
 * delivers itself, so a slow or failing subscriber cannot stall the stream
 * or the schedule (docs/adr/0005).
 */
export class Dispatcher {
  private readonly now: () => number;

  constructor(private readonly options: DispatcherOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * New segments in these partitions, each ending before `end`: wakes every group reading them,
   * telling each that end. Returns the cursors woken.
   */
  async onAppended(partitions: readonly AppendedPartition[]): Promise<CursorRef[]> {
    const refs: CursorRef[] = [];
    for (const { topic, partition, end } of partitions) {
      for (const subscription of await this.options.subscriptions.readersOf(topic)) {
        refs.push({ cursor: subscription.group, partition, end });
      }
    }
    if (refs.length > 0) await this.options.waker.wake(refs);
    return refs;
  }

  /**
   * The safety net, run on a schedule: wakes every cursor with events left
   * and no live holder whose retry (if any) is due, and every partition of a
   * subscription that has no cursor yet. Returns the cursors woken.
   */
  async sweep(): Promise<CursorRef[]> {
    const now = this.now();
    const candidates: { ref: CursorRef; topic: string; mustExist: boolean }[] = [];
    for (const subscription of await this.options.subscriptions.list()) {
      const topic = await this.options.topics.find(subscription.topic);
      for (let partition = 0; topic && partition < topic.partitions; partition++) {
        candidates.push({
          ref: { cursor: subscription.group, partition },
          topic: topic.name,
          mustExist: true,
        });
      }
      candidates.push({
        ref: { cursor: redriveCursor(subscription.group), partition: 0 },
        topic: deadLetterTopic(subscription.group),
        mustExist: false,
      });
    }
    const states = new Map(
      (await this.options.cursors.readMany(candidates.map((c) => c.ref))).map((state) => [
        `${state.cursor}/${state.partition}`,
        state,
      ]),
    );
    const ends = new Map<string, Promise<number>>();
    const endOf = (topic: string, partition: number): Promise<number> => {
      const id = partitionKey(topic, partition);
      let end = ends.get(id);
      if (!end) {
        end = this.options.log.endOffset(topic, partition);
        ends.set(id, end);
      }
      return end;
    };
    const woken: CursorRef[] = [];
    for (const { ref, topic, mustExist } of candidates) {
      const state = states.get(`${ref.cursor}/${ref.partition}`);
      if (!state) {
        if (mustExist) woken.push(ref);
        continue;
      }
      if (leaseIsLive(state, now) || (state.retryAt ?? 0) > now) continue;
      const end = Math.min(await endOf(topic, ref.partition), state.until ?? Number.POSITIVE_INFINITY);
      if (state.committed < end) woken.push(ref);
    }
    if (woken.length > 0) await this.options.waker.wake(woken);
    return woken;
  }

  /**
   * A lease's wake is due (docs/adr/0019): wakes the cursor when its holder
   * is gone and events wait, arms the wake again while the lease lives on
   * (or a retry is due later), and drops it otherwise. Returns what it did.
   */
  async onLeaseWakeDue(wake: LeaseWake): Promise<LeaseWakeAction> {
    const ref = { cursor: wake.cursor, partition: wake.partition };
    const state = await this.options.cursors.read(ref);
    const action = await decideLeaseWake(wake, state, this.now(), (lapsed) =>
      this.options.log.endOffset(lapsed.topic, lapsed.partition),
    );
    if (action.kind === 'wake') await this.options.waker.wake([ref]);
    else if (action.kind === 'rearm') {
      if (!this.options.delayedWaker) throw new Error('A lease wake is armed again through a delayed waker.');
      await this.options.delayedWaker.wakeAt(wake, action.dueAt);
    }
    return action;
  }
}
