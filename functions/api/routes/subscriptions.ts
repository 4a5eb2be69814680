import { aclGrants } from '../../../shared/auth/acl';
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
import { assertValidName } from '../../../shared/names';
import { busMetrics } from '../../../shared/observability/metrics';
import type { TopicConfig } from '../../../shared/registry/topic-registry';
import { type HttpEvent, type HttpResult, header, json, jsonBody, noContent, pathParam } from '../http';
import { authenticate } from './auth';

/**
 * PUT /subscriptions/{group} — 201 created (with a webhook's signing
 * `secret`, shown only then), 200 when the same subscription exists, 409
 * when a different one does. Needs `admin` on the group's name and `read` on
 * its topic. Each partition's cursor starts at the end (`latest`) or at the
 * oldest retained event (`earliest`).
 */
export async function putSubscription(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  const group = pathParam(event, 'group');
  assertValidName('group', group);
  const principal = await authenticate(bus, event, 'admin', group);
  const { subscription, secret } = parseSubscription(group, jsonBody(event), bus.config.webhookPolicy);
  bus.authorizer.authorize(principal, 'read', subscription.topic);
  const topic = await bus.topics.get(subscription.topic);
  const { created, subscription: stored } = await bus.subscriptions.create(subscription, secret);
  if (!created) return json(200, subscriptionView(stored));
  const refs: CursorRef[] = [];
  for (let partition = 0; partition < topic.partitions; partition++) {
    const { backlog } = await initializeCursor(bus.log, bus.cursors, subscription, partition);
    if (backlog) refs.push({ cursor: group, partition });
  }
  // A backlog to replay starts now rather than at the next sweep.
  await bus.waker.wake(refs);
  return json(
    201,
    { ...subscriptionView(stored), ...(stored.secret ? { secret: stored.secret } : {}) },
    { 'cache-control': 'no-store' },
  );
}

/** GET /subscriptions — the subscriptions on topics this key may read (all of them for the admin key). */
export async function listSubscriptions(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  const principal = await authenticate(bus, event, 'read');
  const subscriptions = (await bus.subscriptions.list())
    .filter((subscription) => principal.admin || aclGrants(principal.acl, 'read', subscription.topic))
    .map(subscriptionView);
  return json(200, { subscriptions });
}

/**
 * GET /subscriptions/{group} — the configuration and, per partition, where
 * the group stands: committed and end offsets, lag, the failing event's
 * attempts and last error, and the age of the oldest undelivered event (the
 * figure to alarm on, like Kinesis's iterator age).
 */
export async function describeSubscription(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  const { subscription, topic } = await subscriptionFor(bus, event, 'read');
  const cursors = new Map((await bus.cursors.list(subscription.group)).map((c) => [c.partition, c]));
  const now = Date.now();
  const partitions = [];
  for (let partition = 0; partition < topic.partitions; partition++) {
    const cursor = cursors.get(partition);
    const { startOffset, endOffset } = await bus.log.offsets(topic.name, partition);
    const committedOffset =
      cursor?.committed ?? (subscription.startFrom === 'earliest' ? startOffset : endOffset);
    const lag = Math.max(0, endOffset - Math.max(committedOffset, startOffset));
    partitions.push({
      partition,
      committedOffset,
      endOffset,
      lag,
      attempts: cursor?.attempts ?? 0,
      lastError: cursor?.lastError ?? null,
      ...(cursor?.retryAt ? { retryAt: new Date(cursor.retryAt).toISOString() } : {}),
      oldestEventAgeMs: lag > 0 ? await oldestEventAge(bus, topic.name, partition, committedOffset, now) : 0,
    });
  }
  return json(200, { ...subscriptionView(subscription), partitions });
}

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
export async function deleteSubscription(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  const { subscription } = await subscriptionFor(bus, event, 'admin');
  await bus.subscriptions.delete(subscription.group);
  // After the registry item: a deliverer that still holds a cursor fails its next commit and stops.
  await bus.cursors.deleteAll(subscription.group);
  await bus.cursors.deleteAll(redriveCursor(subscription.group));
  return noContent();
}

/**
 * POST /subscriptions/{group}/offsets `{"to": "earliest" | "latest" |
 * {"timestamp"} | {"offsets": {"<partition>": offset}}}` — replay or skip.
 * A batch in flight finishes, but its commit loses to the reset: the new
 * position takes effect at the next batch.
 */
export async function resetOffsets(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  const { subscription, topic } = await subscriptionFor(bus, event, 'admin');
  const targets = await resetTargets(bus, topic, jsonBody(event));
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
}

async function resetTargets(bus: Bus, topic: TopicConfig, body: unknown): Promise<Map<number, number>> {
  const to = (body as { to?: unknown } | null)?.to;
  const usage =
    'The body must be {"to": "earliest" | "latest" | {"timestamp": ISO-8601} | {"offsets": {"<partition>": offset}}}.';
  if (typeof body !== 'object' || body === null || Object.keys(body).length !== 1 || to === undefined) {
    throw new InvalidRequestError(usage);
  }
  const all = Array.from({ length: topic.partitions }, (_, partition) => partition);
  const targets = new Map<number, number>();
  if (to === 'earliest' || to === 'latest') {
    for (const partition of all) {
      const { startOffset, endOffset } = await bus.log.offsets(topic.name, partition);
      targets.set(partition, to === 'earliest' ? startOffset : endOffset);
    }
    return targets;
  }
  if (typeof to === 'object' && to !== null && Object.keys(to).length === 1 && 'timestamp' in to) {
    const raw = (to as { timestamp: unknown }).timestamp;
    const ms = typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : Number.NaN;
    if (Number.isNaN(ms)) throw new InvalidRequestError(`"to.timestamp" must be an ISO-8601 date-time.`);
    for (const partition of all)
      targets.set(partition, await bus.log.offsetForTimestamp(topic.name, partition, ms));
    return targets;
  }
  if (typeof to === 'object' && to !== null && Object.keys(to).length === 1 && 'offsets' in to) {
    const offsets = (to as { offsets: unknown }).offsets;
    if (typeof offsets !== 'object' || offsets === null || Object.keys(offsets).length === 0) {
      throw new InvalidRequestError('"to.offsets" must map partitions to offsets, e.g. {"0": 42}.');
    }
    for (const [key, value] of Object.entries(offsets)) {
      const partition = Number(key);
      if (!/^\d{1,3}$/.test(key) || partition >= topic.partitions) {
        throw new InvalidRequestError(
          `Topic "${topic.name}" has partitions 0 to ${topic.partitions - 1}, not "${key}".`,
        );
      }
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw new InvalidRequestError(`The offset for partition ${key} must be a non-negative integer.`);
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
  throw new InvalidRequestError(usage);
}

/**
 * POST /subscriptions/{group}/redrive — delivers the group's dead letters to
 * its target again: those in `<group>.dlq` up to its end now, each once per
 * redrive. A dead letter that fails again goes back to the end of the
 * dead-letter topic, after this redrive's bound.
 */
export async function redriveDeadLetters(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  const { subscription } = await subscriptionFor(bus, event, 'admin');
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
}

async function subscriptionFor(
  bus: Bus,
  event: HttpEvent,
  permission: 'read' | 'admin',
): Promise<{ subscription: StoredSubscription; topic: TopicConfig }> {
  const group = pathParam(event, 'group');
  assertValidName('group', group);
  const principal = await bus.authorizer.authenticate(header(event, 'authorization'));
  const subscription = await bus.subscriptions.get(group);
  // Reading a group's state needs read on its topic; changing it needs admin on the group too.
  bus.authorizer.authorize(principal, 'read', subscription.topic);
  if (permission === 'admin') bus.authorizer.authorize(principal, 'admin', group);
  return { subscription, topic: await bus.topics.get(subscription.topic) };
}
