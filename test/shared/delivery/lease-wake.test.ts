import { randomUUID } from 'node:crypto';
import { type BusCore, createBusCore } from '../../../shared/bus';
import { type CursorRef, LEASE_MS } from '../../../shared/delivery/cursor-store';
import type { DelayedWaker, LeaseWake } from '../../../shared/delivery/delayed-waker';
import { Dispatcher } from '../../../shared/delivery/dispatcher';
import type { Heartbeat } from '../../../shared/delivery/heartbeat';
import { LEASE_WAKE_MARGIN_MS } from '../../../shared/delivery/lease-wake';
import type { DeliveryOutcome } from '../../../shared/delivery/targets/target';
import { record, uniqueTopic } from '../../support/aws';
import {
  createGroup,
  DELIVERY_TEST_ENV,
  startDelivery,
  startWebhookReceiver,
  testDeliverer,
} from '../../support/delivery';

const core: BusCore = createBusCore({
  env: { ...process.env, ...DELIVERY_TEST_ENV },
  waker: { wake: async () => {} },
});

/** A group on a one-partition topic holding `count` events, its cursor at 0. */
async function groupWithEvents(count: number) {
  const topic = uniqueTopic('wake');
  await core.topics.create({ name: topic, partitions: 1, retentionHours: 24 });
  await core.log.append(
    topic,
    0,
    24,
    Array.from({ length: count }, (_, n) => record({ n })),
  );
  const group = await createGroup(core, topic);
  const ref: CursorRef = { cursor: group, partition: 0 };
  await core.cursors.initialize(ref, topic, 0);
  return { topic, ref };
}

/** The dispatcher at `now`, recording whom it wakes and what it arms again. */
function dispatcherAt(now: number) {
  const woken: CursorRef[] = [];
  const armed: { wake: LeaseWake; dueAt: number }[] = [];
  const delayedWaker: DelayedWaker = { wakeAt: async (wake, dueAt) => void armed.push({ wake, dueAt }) };
  const dispatcher = new Dispatcher({
    ...core,
    waker: { wake: async (refs) => void woken.push(...refs) },
    delayedWaker,
    now: () => now,
  });
  return { dispatcher, woken, armed };
}

const T0 = Date.now();
const DUE = T0 + LEASE_MS + LEASE_WAKE_MARGIN_MS;

describe('a lease wake, when due, decides on the cursor as DynamoDB holds it', () => {
  test('a holder that died with events left: the partition is woken', async () => {
    const { ref } = await groupWithEvents(3);
    const taken = await core.cursors.acquireLease(ref, 'A', T0, LEASE_MS);
    const { dispatcher, woken, armed } = dispatcherAt(DUE);
    expect(await dispatcher.onLeaseWakeDue({ ...ref, epoch: taken?.leaseEpoch ?? -1 })).toEqual({
      kind: 'wake',
    });
    expect(woken).toEqual([ref]);
    expect(armed).toEqual([]);
  });

  test('a lease renewed by a long run: armed again for its new expiry, nobody woken', async () => {
    const { ref } = await groupWithEvents(3);
    const taken = await core.cursors.acquireLease(ref, 'A', T0, LEASE_MS);
    if (!taken) throw new Error('lease not taken');
    expect(await core.cursors.renewLease(taken, 'A', T0 + 8_000, LEASE_MS)).toBe(true);
    const { dispatcher, woken, armed } = dispatcherAt(DUE);
    const wake = { ...ref, epoch: taken.leaseEpoch };
    expect(await dispatcher.onLeaseWakeDue(wake)).toEqual({
      kind: 'rearm',
      dueAt: T0 + 8_000 + LEASE_MS + LEASE_WAKE_MARGIN_MS,
    });
    expect(armed).toEqual([{ wake, dueAt: T0 + 8_000 + LEASE_MS + LEASE_WAKE_MARGIN_MS }]);
    expect(woken).toEqual([]);
  });

  test('a run that caught up and let its lease go: the wake is dropped', async () => {
    const { ref } = await groupWithEvents(3);
    const taken = await core.cursors.acquireLease(ref, 'A', T0, LEASE_MS);
    if (!taken) throw new Error('lease not taken');
    expect(await core.cursors.commitOffset(taken, 'A', { next: 3 })).toBe(true);
    const { dispatcher, woken, armed } = dispatcherAt(DUE);
    expect(await dispatcher.onLeaseWakeDue({ ...ref, epoch: taken.leaseEpoch })).toEqual({ kind: 'drop' });
    expect([woken, armed]).toEqual([[], []]);
  });

  test('a holder that died after committing everything: nothing to wake for, dropped', async () => {
    const { ref } = await groupWithEvents(3);
    const taken = await core.cursors.acquireLease(ref, 'A', T0, LEASE_MS);
    if (!taken) throw new Error('lease not taken');
    expect(await core.cursors.commitOffset(taken, 'A', { next: 3, leaseExpires: T0 + LEASE_MS })).toBe(true);
    const { dispatcher, woken, armed } = dispatcherAt(DUE);
    expect(await dispatcher.onLeaseWakeDue({ ...ref, epoch: taken.leaseEpoch })).toEqual({ kind: 'drop' });
    expect([woken, armed]).toEqual([[], []]);
  });

  test('a lease taken over since: the old wake is dropped, the new holder’s decides', async () => {
    const { ref } = await groupWithEvents(3);
    const a = await core.cursors.acquireLease(ref, 'A', T0, LEASE_MS);
    const b = await core.cursors.acquireLease(ref, 'B', T0 + LEASE_MS, LEASE_MS);
    if (!a || !b) throw new Error('lease not taken');
    expect(b.leaseEpoch).toBe(a.leaseEpoch + 1);
    // B died too, with its lease lapsed: only B's wake wakes the partition, once.
    const { dispatcher, woken } = dispatcherAt(T0 + 3 * LEASE_MS);
    expect(await dispatcher.onLeaseWakeDue({ ...ref, epoch: a.leaseEpoch })).toEqual({ kind: 'drop' });
    expect(await dispatcher.onLeaseWakeDue({ ...ref, epoch: b.leaseEpoch })).toEqual({ kind: 'wake' });
    expect(woken).toEqual([ref]);
  });

  test('a lease let go with a retry due later: armed again for when the retry is due', async () => {
    const { ref } = await groupWithEvents(3);
    const taken = await core.cursors.acquireLease(ref, 'A', T0, LEASE_MS);
    if (!taken) throw new Error('lease not taken');
    const retryAt = T0 + 120_000;
    expect(await core.cursors.commitOffset(taken, 'A', { next: 0, attempts: 4, retryAt })).toBe(true);
    const { dispatcher, woken, armed } = dispatcherAt(DUE);
    expect(await dispatcher.onLeaseWakeDue({ ...ref, epoch: taken.leaseEpoch })).toEqual({
      kind: 'rearm',
      dueAt: retryAt,
    });
    expect(armed.map((a) => a.dueAt)).toEqual([retryAt]);
    expect(woken).toEqual([]);
  });

  test('a lease let go with a retry now due (nobody woke it): the partition is woken', async () => {
    const { ref } = await groupWithEvents(3);
    const taken = await core.cursors.acquireLease(ref, 'A', T0, LEASE_MS);
    if (!taken) throw new Error('lease not taken');
    const retryAt = T0 + 5_000;
    expect(await core.cursors.commitOffset(taken, 'A', { next: 0, attempts: 1, retryAt })).toBe(true);
    const { dispatcher, woken, armed } = dispatcherAt(DUE);
    expect(await dispatcher.onLeaseWakeDue({ ...ref, epoch: taken.leaseEpoch })).toEqual({ kind: 'wake' });
    expect([woken, armed]).toEqual([[ref], []]);
  });

  test('a cursor that is gone (its subscription deleted): dropped', async () => {
    const { dispatcher, woken, armed } = dispatcherAt(DUE);
    expect(
      await dispatcher.onLeaseWakeDue({ cursor: `gone-${randomUUID()}`, partition: 0, epoch: 1 }),
    ).toEqual({
      kind: 'drop',
    });
    expect([woken, armed]).toEqual([[], []]);
  });
});

/** A stalled or killed process: its timers never fire, so its heartbeat never beats. */
const frozen: Heartbeat = () => async () => {};

describe('takeover on AWS, where the sweep runs once a minute', () => {
  test('a deliverer that dies holding a lease on a quiet partition is taken over within 15 s, by its lease wake alone', async () => {
    // GIVEN the delivery side as on AWS between two sweeps: no sweep, the stream and the lease-wake queue
    const group = `wake-${randomUUID().slice(0, 8)}`;
    // The stream's wake-up for the events appended below is turned away: deliverer A is to take them first.
    let woken = false;
    const harness = startDelivery((cursor) => woken && cursor === group, {
      sweepEveryMs: 0,
      leaseWakes: true,
    });
    const receiver = await startWebhookReceiver();
    try {
      const topic = uniqueTopic('wake');
      await harness.core.topics.create({ name: topic, partitions: 1, retentionHours: 24 });
      await harness.core.subscriptions.create({
        group,
        topic,
        target: { type: 'webhook', url: receiver.url },
        batchSize: 10,
        maxAttempts: 3,
        startFrom: 'earliest',
        delivery: 'at-least-once',
        timeoutSeconds: 5,
      });
      await harness.core.log.append(
        topic,
        0,
        24,
        Array.from({ length: 5 }, (_, n) => record({ n })),
      );
      // AND deliverer A, which takes the lease and dies inside the target: no heartbeat, no commit, ever
      let answer: (outcome: DeliveryOutcome) => void = () => {};
      let invoked: () => void = () => {};
      const inTarget = new Promise<void>((resolve) => (invoked = resolve));
      const hanging = {
        deliver: () => {
          invoked();
          return new Promise<DeliveryOutcome>((resolve) => (answer = resolve));
        },
      };
      const leasedAt = Date.now();
      const a = testDeliverer(harness.core, hanging, {
        heartbeat: frozen,
        delayedWaker: harness.core.delayedWaker,
      }).deliver({ cursor: group, partition: 0 }, 60_000);
      await inTarget;
      woken = true;

      // WHEN nothing more is appended: the partition is quiet, and no sweep comes
      // THEN another deliverer delivers events 0..4 once A's lease has lapsed, within 15 s of A's last sign of life
      await receiver.until((r) => r.offsets(0).length >= 5, 20_000);
      const takenOverMs = receiver.batches[0].at - leasedAt;
      expect(receiver.offsets(0)).toEqual([0, 1, 2, 3, 4]);
      expect(takenOverMs).toBeGreaterThanOrEqual(LEASE_MS);
      expect(takenOverMs).toBeLessThan(15_000);
      // (the webhook has answered; the commit follows it)
      const committed = async () =>
        (await harness.core.cursors.read({ cursor: group, partition: 0 }))?.committed;
      for (let i = 0; i < 50 && (await committed()) !== 5; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await committed()).toBe(5);

      // AND A, if it ever comes back, cannot commit over the new holder
      answer({ status: 'delivered' });
      expect((await a).result).toBe('held');
    } finally {
      await receiver.close();
      await harness.stop();
    }
  }, 40_000);
});
