import { randomUUID } from 'node:crypto';
import type { DeliveryBatch } from '../../../protocol';
import { type BusCore, createBusCore } from '../../../shared/bus';
import { CursorStore } from '../../../shared/delivery/cursor-store';
import type { DeliveryOutcome, OutgoingBatch } from '../../../shared/delivery/targets/target';
import { record, testConfig, uniqueTopic } from '../../support/aws';
import { DELIVERY_TEST_ENV, testDeliverer } from '../../support/delivery';
import { type Fault, faultyDynamo } from '../../support/faults';

/** A subscriber that records what it got and answers as told. */
class RecordingTarget {
  readonly batches: DeliveryBatch[] = [];
  answer: (batch: DeliveryBatch) => Promise<DeliveryOutcome> = async () => ({ status: 'delivered' });
  async deliver(outgoing: OutgoingBatch): Promise<DeliveryOutcome> {
    const batch = JSON.parse(outgoing.body) as DeliveryBatch;
    this.batches.push(batch);
    return this.answer(batch);
  }
  offsets(): number[] {
    return this.batches.flatMap((b) => b.events.map((e) => e.offset));
  }
}

/** A groups-table client whose next commit (an UpdateItem moving `committed`) meets `fault`. */
function faultyCursors(fault: Fault): CursorStore {
  const isCommit = (command: string, input: { UpdateExpression?: string }) =>
    /^Update/.test(command) && input.UpdateExpression?.includes('committed = :next') === true;
  return new CursorStore(faultyDynamo([{ when: isCommit, faults: [fault] }]), testConfig().groupsTable);
}

const core: BusCore = createBusCore({
  env: { ...process.env, ...DELIVERY_TEST_ENV },
  waker: { wake: async () => {} },
});

/** A clock that tests move forward, as lease expiry is a function of injected time. */
function clock() {
  let skew = 0;
  return { now: () => Date.now() + skew, advance: (ms: number) => (skew += ms) };
}

function deliverer(target: RecordingTarget, options: { cursors?: CursorStore; now?: () => number } = {}) {
  return testDeliverer(core, target, {
    cursors: options.cursors ?? core.cursors,
    backoff: { baseMs: 50, maxMs: 1_000 },
    now: options.now,
  });
}

/** A topic with `count` events in one partition and a group reading it from the start. */
async function groupWithEvents(count: number, batchSize = 10) {
  const topic = uniqueTopic();
  await core.topics.create({ name: topic, partitions: 1, retentionHours: 24 });
  await core.log.append(
    topic,
    0,
    24,
    Array.from({ length: count }, (_, n) => record({ n })),
  );
  const group = `g-${randomUUID().slice(0, 8)}`;
  await core.subscriptions.create({
    group,
    topic,
    target: { type: 'lambda', function: 'unused' },
    batchSize,
    maxAttempts: 3,
    startFrom: 'earliest',
    delivery: 'at-least-once',
    timeoutSeconds: 5,
  });
  return { topic, group, ref: { cursor: group, partition: 0 } };
}

const BUDGET = 20_000;

describe('deliverer', () => {
  test('two deliverers racing for one group-partition: one delivers, in order, nothing skipped or repeated', async () => {
    const { ref } = await groupWithEvents(30, 5);
    const target = new RecordingTarget();
    target.answer = async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { status: 'delivered' };
    };
    const runs = await Promise.all([
      deliverer(target).deliver(ref, BUDGET),
      deliverer(target).deliver(ref, BUDGET),
    ]);
    expect(runs.map((r) => r.result).sort()).toEqual(['caught-up', 'held']);
    expect(target.offsets()).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect((await core.cursors.read(ref))?.committed).toBe(30);
  });

  test('a crash between invoke and commit redelivers the batch; the lease left behind is taken over once expired', async () => {
    const { ref } = await groupWithEvents(10, 4);
    const time = clock();
    const target = new RecordingTarget();
    await expect(
      deliverer(target, { cursors: faultyCursors('crash-before-send'), now: time.now }).deliver(ref, BUDGET),
    ).rejects.toThrow('process died');
    expect(target.offsets()).toEqual([0, 1, 2, 3]);

    // While the dead holder's lease lasts, nobody delivers.
    expect((await deliverer(target, { now: time.now }).deliver(ref, BUDGET)).result).toBe('held');
    time.advance(BUDGET + 10_000);
    const run = await deliverer(target, { now: time.now }).deliver(ref, BUDGET);
    expect(run.result).toBe('caught-up');
    expect(target.offsets()).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('a crash after the commit does not redeliver', async () => {
    const { ref } = await groupWithEvents(10, 4);
    const time = clock();
    const target = new RecordingTarget();
    await expect(
      deliverer(target, { cursors: faultyCursors('lose-answer'), now: time.now }).deliver(ref, BUDGET),
    ).rejects.toThrow('socket hang up');
    time.advance(BUDGET + 10_000);
    await deliverer(target, { now: time.now }).deliver(ref, BUDGET);
    expect(target.offsets()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('a lease that expires mid-batch lets another holder in, and only one of the two commits', async () => {
    const { topic, ref } = await groupWithEvents(5, 100);
    const time = clock();
    // Holder A reads events 0..4, then hangs inside the subscriber.
    let releaseA!: () => void;
    const slow = new RecordingTarget();
    slow.answer = () =>
      new Promise((resolve) => {
        releaseA = () => resolve({ status: 'delivered' });
      });
    const a = deliverer(slow, { now: time.now }).deliver(ref, BUDGET);
    while (slow.batches.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));

    // Meanwhile more events arrive, A's lease runs out, and B takes over and delivers all ten.
    await core.log.append(
      topic,
      0,
      24,
      Array.from({ length: 5 }, (_, n) => record({ n: 5 + n })),
    );
    time.advance(BUDGET + 10_000);
    const fast = new RecordingTarget();
    expect((await deliverer(fast, { now: time.now }).deliver(ref, BUDGET)).result).toBe('caught-up');
    expect(fast.offsets()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    // A's subscriber finally answers: A's commit (to 5) must not win over B's (to 10).
    releaseA();
    expect((await a).result).toBe('held');
    expect((await core.cursors.read(ref))?.committed).toBe(10);
  });

  test('a reset during a batch takes effect at the next batch, never mid-batch', async () => {
    const { topic, ref } = await groupWithEvents(6, 3);
    let reset = false;
    const target = new RecordingTarget();
    target.answer = async (batch) => {
      if (!reset && batch.events[0].offset === 3) {
        reset = true;
        await core.cursors.reset(ref, topic, 1);
      }
      return { status: 'delivered' };
    };
    expect((await deliverer(target).deliver(ref, BUDGET)).result).toBe('caught-up');
    // The batch 3..5 in flight during the reset was delivered whole; its commit lost to the reset;
    // the next batch started where the reset put the group.
    expect(target.batches.map((b) => b.events.map((e) => e.offset))).toEqual([
      [0, 1, 2],
      [3, 4, 5],
      [1, 2, 3],
      [4, 5],
    ]);
    expect((await core.cursors.read(ref))?.committed).toBe(6);
  });

  test('a failing batch is bisected until the poison event stands alone', async () => {
    const { ref } = await groupWithEvents(8, 8);
    const target = new RecordingTarget();
    target.answer = async (batch) =>
      batch.events.some((e) => e.offset === 5)
        ? { status: 'failed', error: 'boom' }
        : { status: 'delivered' };
    await deliverer(target).deliver(ref, BUDGET);
    const sizes = target.batches.map((b) => b.events.map((e) => e.offset));
    // 8 fail → 0..3 ok → 4..7 fail → 4..5 fail → 4 ok → 5 alone, 3 attempts → dead letter → 6,7
    expect(sizes.slice(0, 6)).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7],
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [4, 5],
      [4],
      [5],
    ]);
    expect(sizes.filter((s) => s.length === 1 && s[0] === 5)).toHaveLength(3);
    expect(target.offsets().slice(-2)).toEqual([6, 7]);
    expect((await core.cursors.read(ref))?.committed).toBe(8);
  });
});
