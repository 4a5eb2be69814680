import pMap from 'p-map';
import type { SubscriptionPartition } from '../../protocol';
import type { NetworkPolicy } from '../config';
import { initializeCursor, redriveCursor } from '../delivery/cursor';
import type { CursorRef, CursorStore } from '../delivery/cursor-store';
import type { DeadLetters } from '../delivery/dead-letters';
import {
  deadLetterTopic,
  parseSubscription,
  type StoredSubscription,
  type Subscription,
} from '../delivery/subscription';
import type { Waker } from '../delivery/waker';
import { ConflictError, InvalidRequestError, OffsetOutOfRangeError } from '../errors';
import type { Log } from '../log/log';
import { type MetricsPort, NO_METRICS } from '../observability/metrics';
import { RoutesChangedError, type SubscriptionRegistry } from '../registry/subscription-registry';
import { partitionNamed, type TopicConfig } from '../registry/topic';
import type { TopicRegistry } from '../registry/topic-registry';
import { findRouteCycle, RouteCycleError, type TopicRoute } from '../routing/route-cycle';

/** How many times a topic target is checked for a cycle while other routes keep landing. */
const ROUTE_CHECKS = 5;

/** How many partitions one request reads or resets at once. */
const PARTITION_CONCURRENCY = 16;

/** Where a reset moves a group: as `POST /subscriptions/{group}/offsets` says it. */
export type OffsetReset =
  | 'earliest'
  | 'latest'
  | { readonly timestamp: string }
  | { readonly offsets: Readonly<Record<string, number>> };

/**
 * Checks what only the stored subscription names, once it is read: a
 * group's state is its topic's, so the caller says whether it may read that
 * topic (throwing FORBIDDEN if not).
 */
export type TopicCheck = (topic: string) => void;

export interface SubscriptionServiceOptions {
  readonly log: Log;
  readonly topics: TopicRegistry;
  readonly subscriptions: SubscriptionRegistry;
  readonly cursors: CursorStore;
  readonly waker: Waker;
  /** Creates a group's dead-letter topic with the group. */
  readonly deadLetters: Pick<DeadLetters, 'ensureTopic'>;
  readonly webhookPolicy: NetworkPolicy;
  readonly metrics?: MetricsPort;
  readonly now?: () => number;
}

/**
 * The consumer groups' workflows, once, for the HTTP API, the registrar (the
 * construct's declarations) and local mode: subscribe (check, create, start
 * the cursors, wake a backlog), describe the lag, reset offsets, redrive dead
 * letters, delete.
 */
export class SubscriptionService {
  private readonly now: () => number;

  constructor(private readonly options: SubscriptionServiceOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * A `PUT /subscriptions/{group}` body checked and completed with defaults
   * (INVALID_REQUEST otherwise): what {@link subscribe} takes, once the
   * caller has checked it may read its topic.
   */
  parse(group: string, body: unknown): ReturnType<typeof parseSubscription> {
    return parseSubscription(group, body, this.options.webhookPolicy);
  }

  /**
   * Creates the group; each partition's cursor starts where `startFrom`
   * says, and a backlog to replay is woken now rather than at the next
   * sweep. `created` is false when the same subscription exists (CONFLICT
   * when a different one does).
   */
  async subscribe(
    checked: ReturnType<typeof parseSubscription>,
  ): Promise<{ created: boolean; subscription: StoredSubscription }> {
    const { group } = checked.subscription;
    const topic = await this.options.topics.get(checked.subscription.topic);
    const isNew = !(await this.options.subscriptions.find(group));
    if (isNew) await this.refuseForeignDeadLetterTopic(group);
    const outcome = await this.create(checked.subscription, checked.secret);
    if (!outcome.created) return outcome;
    await this.options.deadLetters.ensureTopic(group, topic.retentionHours);
    await this.options.waker.wake(await this.startCursors(outcome.subscription, topic));
    return outcome;
  }

  /**
   * Makes the registry hold a subscription declared in code: a declaration
   * applied anew replaces the one the last deployment registered (its
   * cursors stay, so the group goes on from where it is); a group created
   * through the API under the same name is adopted if it is the same, and
   * refused otherwise.
   */
  async declare(group: string, body: unknown, replacesPrevious: boolean): Promise<void> {
    const checked = this.parse(group, body);
    const topic = await this.options.topics.get(checked.subscription.topic);
    // Checked before the previous declaration is deleted, so a refused route leaves it in place;
    // `create` checks again against the routes as they are when it writes.
    await this.checkRoute(checked.subscription);
    const existing = await this.options.subscriptions.find(group);
    if (!existing) await this.refuseForeignDeadLetterTopic(group);
    if (replacesPrevious && existing) await this.options.subscriptions.delete(group);
    let subscription: StoredSubscription;
    try {
      ({ subscription } = await this.create(checked.subscription, checked.secret));
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      throw new ConflictError(
        `Subscription "${group}" exists with another configuration (created through the API?); delete it or declare another group.`,
      );
    }
    await this.options.deadLetters.ensureTopic(group, topic.retentionHours);
    await this.startCursors(subscription, topic);
  }

  /**
   * Creates the subscription in the registry; a topic target only if no
   * other route landed between its check and its write, checked again
   * otherwise (a few times: each retry means another route did land).
   */
  private async create(
    subscription: Subscription,
    secret: string | undefined,
  ): ReturnType<SubscriptionRegistry['create']> {
    for (let attempt = 1; ; attempt++) {
      const routesVersion = await this.checkRoute(subscription);
      try {
        return await this.options.subscriptions.create(subscription, secret, routesVersion);
      } catch (error) {
        if (!(error instanceof RoutesChangedError) || attempt === ROUTE_CHECKS) throw error;
      }
    }
  }

  /**
   * A topic target must exist (TOPIC_NOT_FOUND), be a topic the bus lets
   * clients publish to (not a dead-letter topic), and not lead back to the
   * subscription's own topic through the other topic targets (ROUTE_CYCLE):
   * events routed in a circle would be appended forever. Returns the routes'
   * version the check saw, for a topic target.
   */
  private async checkRoute(subscription: Subscription): Promise<number | undefined> {
    const { target } = subscription;
    if (target.type !== 'topic') return undefined;
    const routesVersion = await this.options.subscriptions.routesVersion();
    const into = await this.options.topics.get(target.topic);
    if (into.deadLetterOf !== undefined) {
      throw new InvalidRequestError(
        `"target.topic" is group "${into.deadLetterOf}"'s dead-letter topic: only the bus appends to it.`,
      );
    }
    const routes: TopicRoute[] = [];
    for (const other of await this.options.subscriptions.list()) {
      if (other.group !== subscription.group && other.target.type === 'topic')
        routes.push({ from: other.topic, to: other.target.topic });
    }
    const cycle = findRouteCycle(routes, { from: subscription.topic, to: target.topic });
    if (cycle) throw new RouteCycleError(cycle);
    return routesVersion;
  }

  /**
   * A new group's dead-letter topic must be its own: one that exists
   * without being its (made by hand before names ending `.dlq` were
   * reserved) could hold events the group never dead-lettered, which a
   * redrive would deliver as if it had (docs/adr/0014).
   */
  private async refuseForeignDeadLetterTopic(group: string): Promise<void> {
    const name = deadLetterTopic(group);
    const existing = await this.options.topics.find(name);
    if (existing && existing.deadLetterOf !== group) {
      throw new ConflictError(
        `Topic "${name}" exists and is not group "${group}"'s dead-letter topic; choose another group name.`,
        { details: { topic: name } },
      );
    }
  }

  /** Every subscription. */
  list(): Promise<StoredSubscription[]> {
    return this.options.subscriptions.list();
  }

  /**
   * The group's configuration and, per partition, where it stands: committed
   * and end offsets, lag, the failing event's attempts and last error, and
   * the age of the oldest undelivered event (the figure to alarm on, like
   * Kinesis's iterator age).
   */
  async describe(
    group: string,
    check: TopicCheck,
  ): Promise<{ subscription: StoredSubscription; partitions: SubscriptionPartition[] }> {
    const { subscription, topic } = await this.subscriptionOf(group, check);
    const { log, cursors: store } = this.options;
    const cursors = new Map((await store.list(subscription.group)).map((c) => [c.partition, c]));
    const now = this.now();
    const partitions = await pMap(
      partitionsOf(topic),
      async (partition): Promise<SubscriptionPartition> => {
        const cursor = cursors.get(partition);
        const { startOffset, endOffset } = await log.offsets(topic.name, partition);
        const committedOffset =
          cursor?.committed ?? (subscription.startFrom === 'earliest' ? startOffset : endOffset);
        const lag = Math.max(0, endOffset - Math.max(committedOffset, startOffset));
        return {
          partition,
          committedOffset,
          endOffset,
          lag,
          attempts: cursor?.attempts ?? 0,
          lastError: cursor?.lastError ?? null,
          ...(cursor?.retryAt ? { retryAt: new Date(cursor.retryAt).toISOString() } : {}),
          ...(cursor?.throttledUntil
            ? { throttledUntil: new Date(cursor.throttledUntil).toISOString() }
            : {}),
          oldestEventAgeMs:
            lag > 0 ? await this.oldestEventAge(topic.name, partition, committedOffset, now) : 0,
        };
      },
      { concurrency: PARTITION_CONCURRENCY },
    );
    return { subscription, partitions };
  }

  /** Deletes the group: it receives nothing more, and its offsets are forgotten. */
  async delete(group: string, check: TopicCheck): Promise<void> {
    const { subscription } = await this.subscriptionOf(group, check);
    await this.options.subscriptions.delete(subscription.group);
    // After the registry item: a deliverer that still holds a cursor fails its next commit and stops.
    await this.options.cursors.deleteAll(subscription.group);
    await this.options.cursors.deleteAll(redriveCursor(subscription.group));
  }

  /**
   * Moves the group's committed offsets (replay or skip). A batch in flight
   * finishes, but its commit loses to the reset: the new position takes
   * effect at the next batch. Returns each partition's new committed offset.
   */
  async resetOffsets(group: string, to: OffsetReset, check: TopicCheck): Promise<Map<number, number>> {
    const { subscription, topic } = await this.subscriptionOf(group, check);
    const targets = await this.resetTargets(topic, to);
    const refs: CursorRef[] = [];
    for (const [partition, offset] of targets) {
      const ref = { cursor: subscription.group, partition };
      await this.options.cursors.reset(ref, topic.name, offset);
      refs.push(ref);
    }
    await this.options.waker.wake(refs);
    return targets;
  }

  /**
   * Delivers the group's dead letters to its target again: those in
   * `<group>.dlq` up to its end now, each once per redrive. A dead letter
   * that fails again goes back to the end of the dead-letter topic, after
   * this redrive's bound. Returns how many will be delivered again.
   */
  async redrive(group: string, check: TopicCheck): Promise<number> {
    const { subscription } = await this.subscriptionOf(group, check);
    const dlq = deadLetterTopic(subscription.group);
    if (!(await this.options.topics.find(dlq))) return 0;
    const { startOffset, endOffset } = await this.options.log.offsets(dlq, 0);
    const ref = { cursor: redriveCursor(subscription.group), partition: 0 };
    const cursor = await this.options.cursors.read(ref);
    // Continue from where the last redrive stopped: a dead letter is redriven once per redrive.
    const from = Math.max(cursor?.committed ?? startOffset, startOffset);
    await this.options.cursors.reset(ref, dlq, from, { until: endOffset });
    await this.options.waker.wake([ref]);
    const deadLetters = Math.max(0, endOffset - from);
    (this.options.metrics ?? NO_METRICS).redriven(deadLetters);
    return deadLetters;
  }

  /** The group's subscription and topic, once `check` allowed its topic. */
  private async subscriptionOf(
    group: string,
    check: TopicCheck,
  ): Promise<{ subscription: StoredSubscription; topic: TopicConfig }> {
    const subscription = await this.options.subscriptions.get(group);
    check(subscription.topic);
    return { subscription, topic: await this.options.topics.get(subscription.topic) };
  }

  /** Starts the group's cursor on every partition; returns those with a backlog to deliver. */
  private async startCursors(subscription: StoredSubscription, topic: TopicConfig): Promise<CursorRef[]> {
    const backlogs: CursorRef[] = [];
    for (const partition of partitionsOf(topic)) {
      const { backlog } = await initializeCursor(
        this.options.log,
        this.options.cursors,
        subscription,
        partition,
      );
      if (backlog) backlogs.push({ cursor: subscription.group, partition });
    }
    return backlogs;
  }

  private async oldestEventAge(
    topic: string,
    partition: number,
    offset: number,
    now: number,
  ): Promise<number> {
    try {
      const { records } = await this.options.log.read(topic, partition, offset, 1);
      return records[0] ? Math.max(0, now - records[0].timestamp) : 0;
    } catch (error) {
      if (!(error instanceof OffsetOutOfRangeError)) throw error;
      return this.oldestEventAge(topic, partition, error.startOffset, now);
    }
  }

  private async resetTargets(topic: TopicConfig, to: OffsetReset): Promise<Map<number, number>> {
    const { log } = this.options;
    const all = partitionsOf(topic);
    const targets = new Map<number, number>();
    if (to === 'earliest' || to === 'latest') {
      const offsets = await pMap(all, (partition) => log.offsets(topic.name, partition), {
        concurrency: PARTITION_CONCURRENCY,
      });
      for (const partition of all) {
        targets.set(
          partition,
          to === 'earliest' ? offsets[partition].startOffset : offsets[partition].endOffset,
        );
      }
      return targets;
    }
    if ('timestamp' in to) {
      const ms = Date.parse(to.timestamp);
      for (const partition of all)
        targets.set(partition, await log.offsetForTimestamp(topic.name, partition, ms));
      return targets;
    }
    const entries = Object.entries(to.offsets);
    if (entries.length === 0)
      throw new InvalidRequestError('"to.offsets" must map partitions to offsets, e.g. {"0": 42}.');
    for (const [key, value] of entries) {
      const partition = partitionNamed(topic, key);
      const { startOffset, endOffset } = await log.offsets(topic.name, partition);
      if (value > endOffset) {
        throw new InvalidRequestError(`Partition ${key} ends at offset ${endOffset}; ${value} is past it.`);
      }
      // Below the oldest retained event means "from the oldest retained event".
      targets.set(partition, Math.max(value, startOffset));
    }
    return targets;
  }
}

function partitionsOf(topic: TopicConfig): number[] {
  return Array.from({ length: topic.partitions }, (_, partition) => partition);
}
