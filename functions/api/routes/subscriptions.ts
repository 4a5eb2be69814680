import pMap from 'p-map';
import type { z } from 'zod';
import { aclGrants } from '../../../shared/auth/acl';
import type { Principal } from '../../../shared/auth/authorizer';
import type { Bus } from '../../../shared/bus';
import type { CursorRef } from '../../../shared/delivery/cursor-store';
import { initializeCursor, redriveCursor } from '../../../shared/delivery/deliverer';
import {
  deadLetterTopic,
  parseSubscription,
  type StoredSubscription,
  subscriptionView,
} from '../../../shared/delivery/subscription';
import { InvalidRequestError, OffsetOutOfRangeError } from '../../../shared/errors';
import { busMetrics } from '../../../shared/observability/metrics';
import type { TopicConfig } from '../../../shared/registry/topic';
import { defineRoute } from '../contract/route';
import {
  CreatedSubscription,
  GroupPath,
  RedriveAnswer,
  ResetAnswer,
  ResetBody,
  Subscription,
  SubscriptionBody,
  SubscriptionDescription,
  SubscriptionList,
} from '../contract/schemas';
import { json, noContent } from '../http';

/** How many partitions one request reads or resets at once. */
const PARTITION_CONCURRENCY = 16;
const READ_ON_TOPIC = "and `read` on the subscription's topic";

/**
 * PUT /subscriptions/{group} — 201 created (with a webhook's signing
 * `secret`, shown only then), 200 when the same subscription exists, 409
 * when a different one does. Needs `admin` on the group's name and `read` on
 * its topic. Each partition's cursor starts at the end (`latest`) or at the
 * oldest retained event (`earliest`).
 */
export const putSubscription = defineRoute({
  method: 'PUT',
  path: '/subscriptions/{group}',
  operationId: 'putSubscription',
  tag: 'subscriptions',
  summary: 'Create a subscription (consumer group)',
  description:
    'Creates the group; the same subscription again is 200 (without the secret), a different one 409 CONFLICT. ' +
    "Each partition's cursor starts at the end (`latest`) or at the oldest retained event (`earliest`). " +
    'Dead letters land in topic `<group>.dlq`.',
  access: { permission: 'admin', resource: { param: 'group' }, also: "and `read` on the body's topic" },
  params: GroupPath,
  body: { schema: SubscriptionBody },
  responses: {
    201: {
      description: "Created; a webhook's answer holds its signing `secret`, shown only here.",
      schema: CreatedSubscription,
      headers: { 'cache-control': 'no-store' },
    },
    200: { description: 'The same subscription exists already.', schema: Subscription },
    409: { description: 'CONFLICT: the group exists with a different subscription.' },
  },
  handle: async ({ params, body, principal }, { bus }) => {
    const { subscription, secret } = parseSubscription(params.group, body, bus.config.webhookPolicy);
    bus.authorizer.authorize(principal, 'read', subscription.topic);
    const topic = await bus.topics.get(subscription.topic);
    const { created, subscription: stored } = await bus.subscriptions.create(subscription, secret);
    if (!created) return json(200, subscriptionView(stored));
    const refs: CursorRef[] = [];
    for (let partition = 0; partition < topic.partitions; partition++) {
      const { backlog } = await initializeCursor(bus.log, bus.cursors, subscription, partition);
      if (backlog) refs.push({ cursor: params.group, partition });
    }
    // A backlog to replay starts now rather than at the next sweep.
    await bus.waker.wake(refs);
    return json(
      201,
      { ...subscriptionView(stored), ...(stored.secret ? { secret: stored.secret } : {}) },
      { 'cache-control': 'no-store' },
    );
  },
});

/** GET /subscriptions — the subscriptions on topics this key may read (all of them for the admin key). */
export const listSubscriptions = defineRoute({
  method: 'GET',
  path: '/subscriptions',
  operationId: 'listSubscriptions',
  tag: 'subscriptions',
  summary: 'List subscriptions',
  description: 'The subscriptions on topics this key may read; all of them for the admin key.',
  access: { permission: 'read', resource: 'some-topic' },
  responses: { 200: { description: 'The subscriptions.', schema: SubscriptionList } },
  handle: async ({ principal }, { bus }) => {
    const subscriptions = (await bus.subscriptions.list())
      .filter((subscription) => principal.admin || aclGrants(principal.acl, 'read', subscription.topic))
      .map(subscriptionView);
    return json(200, { subscriptions });
  },
});

/**
 * GET /subscriptions/{group} — the configuration and, per partition, where
 * the group stands: committed and end offsets, lag, the failing event's
 * attempts and last error, and the age of the oldest undelivered event (the
 * figure to alarm on, like Kinesis's iterator age).
 */
export const describeSubscription = defineRoute({
  method: 'GET',
  path: '/subscriptions/{group}',
  operationId: 'describeSubscription',
  tag: 'subscriptions',
  summary: 'Describe a subscription and its lag',
  description:
    "The configuration and, per partition, where the group stands: committed and end offsets, lag, the failing event's " +
    'attempts and last error, and the age of the oldest undelivered event.',
  access: { permission: 'read', resource: 'some-topic', also: "`read` on the subscription's topic" },
  params: GroupPath,
  responses: { 200: { description: 'The subscription.', schema: SubscriptionDescription } },
  handle: async ({ params, principal }, { bus }) => {
    const { subscription, topic } = await subscriptionFor(bus, principal, params.group);
    const cursors = new Map((await bus.cursors.list(subscription.group)).map((c) => [c.partition, c]));
    const now = Date.now();
    const partitions = await pMap(
      Array.from({ length: topic.partitions }, (_, partition) => partition),
      async (partition) => {
        const cursor = cursors.get(partition);
        const { startOffset, endOffset } = await bus.log.offsets(topic.name, partition);
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
          oldestEventAgeMs:
            lag > 0 ? await oldestEventAge(bus, topic.name, partition, committedOffset, now) : 0,
        };
      },
      { concurrency: PARTITION_CONCURRENCY },
    );
    return json(200, { ...subscriptionView(subscription), partitions });
  },
});

async function oldestEventAge(
  bus: Bus,
  topic: string,
  partition: number,
  offset: number,
  now: number,
): Promise<number> {
  try {
    const { records } = await bus.log.read(topic, partition, offset, 1);
    return records[0] ? Math.max(0, now - records[0].timestamp) : 0;
  } catch (error) {
    if (!(error instanceof OffsetOutOfRangeError)) throw error;
    return oldestEventAge(bus, topic, partition, error.startOffset, now);
  }
}

/** DELETE /subscriptions/{group} — 204; the group receives nothing more, and its offsets are forgotten. */
export const deleteSubscription = defineRoute({
  method: 'DELETE',
  path: '/subscriptions/{group}',
  operationId: 'deleteSubscription',
  tag: 'subscriptions',
  summary: 'Delete a subscription',
  description: 'The group receives nothing more, and its offsets are forgotten.',
  access: { permission: 'admin', resource: { param: 'group' }, also: READ_ON_TOPIC },
  params: GroupPath,
  responses: { 204: { description: 'Deleted.' } },
  handle: async ({ params, principal }, { bus }) => {
    const { subscription } = await subscriptionFor(bus, principal, params.group);
    await bus.subscriptions.delete(subscription.group);
    // After the registry item: a deliverer that still holds a cursor fails its next commit and stops.
    await bus.cursors.deleteAll(subscription.group);
    await bus.cursors.deleteAll(redriveCursor(subscription.group));
    return noContent();
  },
});

/**
 * POST /subscriptions/{group}/offsets `{"to": "earliest" | "latest" |
 * {"timestamp"} | {"offsets": {"<partition>": offset}}}` — replay or skip.
 * A batch in flight finishes, but its commit loses to the reset: the new
 * position takes effect at the next batch.
 */
export const resetOffsets = defineRoute({
  method: 'POST',
  path: '/subscriptions/{group}/offsets',
  operationId: 'resetOffsets',
  tag: 'subscriptions',
  summary: 'Reset offsets (replay or skip)',
  description:
    'Moves the committed offsets: to the oldest retained event, the end, the first event at a time, or given offsets ' +
    '(below the oldest retained one means from it). A batch in flight finishes; its commit loses to the reset.',
  access: { permission: 'admin', resource: { param: 'group' }, also: READ_ON_TOPIC },
  params: GroupPath,
  body: { schema: ResetBody },
  responses: { 200: { description: 'The new committed offsets.', schema: ResetAnswer } },
  handle: async ({ params, body, principal }, { bus }) => {
    const { subscription, topic } = await subscriptionFor(bus, principal, params.group);
    const targets = await resetTargets(bus, topic, body.to);
    const refs: CursorRef[] = [];
    for (const [partition, offset] of targets) {
      const ref = { cursor: subscription.group, partition };
      await bus.cursors.reset(ref, topic.name, offset);
      refs.push(ref);
    }
    await bus.waker.wake(refs);
    return json(200, {
      partitions: [...targets].map(([partition, committedOffset]) => ({ partition, committedOffset })),
    });
  },
});

async function resetTargets(
  bus: Bus,
  topic: TopicConfig,
  to: z.output<typeof ResetBody>['to'],
): Promise<Map<number, number>> {
  const all = Array.from({ length: topic.partitions }, (_, partition) => partition);
  const targets = new Map<number, number>();
  if (to === 'earliest' || to === 'latest') {
    const offsets = await pMap(all, (partition) => bus.log.offsets(topic.name, partition), {
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
      targets.set(partition, await bus.log.offsetForTimestamp(topic.name, partition, ms));
    return targets;
  }
  const entries = Object.entries(to.offsets);
  if (entries.length === 0)
    throw new InvalidRequestError('"to.offsets" must map partitions to offsets, e.g. {"0": 42}.');
  for (const [key, value] of entries) {
    const partition = Number(key);
    if (!/^\d{1,3}$/.test(key) || partition >= topic.partitions) {
      throw new InvalidRequestError(
        `Topic "${topic.name}" has partitions 0 to ${topic.partitions - 1}, not "${key.slice(0, 60)}".`,
      );
    }
    const { startOffset, endOffset } = await bus.log.offsets(topic.name, partition);
    if (value > endOffset) {
      throw new InvalidRequestError(`Partition ${key} ends at offset ${endOffset}; ${value} is past it.`);
    }
    // Below the oldest retained event means "from the oldest retained event".
    targets.set(partition, Math.max(value, startOffset));
  }
  return targets;
}

/**
 * POST /subscriptions/{group}/redrive — delivers the group's dead letters to
 * its target again: those in `<group>.dlq` up to its end now, each once per
 * redrive. A dead letter that fails again goes back to the end of the
 * dead-letter topic, after this redrive's bound.
 */
export const redriveDeadLetters = defineRoute({
  method: 'POST',
  path: '/subscriptions/{group}/redrive',
  operationId: 'redriveDeadLetters',
  tag: 'subscriptions',
  summary: 'Redrive dead letters',
  description:
    "Delivers the group's dead letters (topic `<group>.dlq`, up to its end now) to its target again, each once per " +
    'redrive; one that fails again goes back to the end of the dead-letter topic.',
  access: { permission: 'admin', resource: { param: 'group' }, also: READ_ON_TOPIC },
  params: GroupPath,
  responses: {
    202: { description: 'Accepted: how many dead letters will be delivered again.', schema: RedriveAnswer },
  },
  handle: async ({ params, principal }, { bus }) => {
    const { subscription } = await subscriptionFor(bus, principal, params.group);
    const dlq = deadLetterTopic(subscription.group);
    if (!(await bus.topics.find(dlq))) return json(202, { deadLetters: 0 });
    const { startOffset, endOffset } = await bus.log.offsets(dlq, 0);
    const ref = { cursor: redriveCursor(subscription.group), partition: 0 };
    const cursor = await bus.cursors.read(ref);
    // Continue from where the last redrive stopped: a dead letter is redriven once per redrive.
    const from = Math.max(cursor?.committed ?? startOffset, startOffset);
    await bus.cursors.reset(ref, dlq, from, { until: endOffset });
    await bus.waker.wake([ref]);
    const deadLetters = Math.max(0, endOffset - from);
    busMetrics.redriven(deadLetters);
    return json(202, { deadLetters });
  },
});

/**
 * The group's subscription and topic. The route's declared access has been
 * checked; what only the stored subscription names is checked here: a
 * group's state is its topic's, so reading or changing it needs `read` there.
 */
async function subscriptionFor(
  bus: Bus,
  principal: Principal,
  group: string,
): Promise<{ subscription: StoredSubscription; topic: TopicConfig }> {
  const subscription = await bus.subscriptions.get(group);
  bus.authorizer.authorize(principal, 'read', subscription.topic);
  return { subscription, topic: await bus.topics.get(subscription.topic) };
}
