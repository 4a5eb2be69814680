import { type BusCore, createBusCore } from '../../../shared/bus';
import { LEASE_MS } from '../../../shared/delivery/cursor-store';
import type { Heartbeat } from '../../../shared/delivery/heartbeat';
import type { DeliveryOutcome, OutgoingBatch } from '../../../shared/delivery/targets/target';
import { record, uniqueTopic } from '../../support/aws';
import { createGroup, DELIVERY_TEST_ENV, testDeliverer } from '../../support/delivery';

const core: BusCore = createBusCore({
  env: { ...process.env, ...DELIVERY_TEST_ENV },
  waker: { wake: async () => {} },
});

const BUDGET = 30_000;

/** A clock the test moves forward: lease expiry is a function of injected time. */
function clock() {
  let skew = 0;
  return { now: () => Date.now() + skew, advance: (ms: number) => (skew += ms) };
}

/** A stalled process: its timers never fire, so its heartbeat never beats. */
const frozen: Heartbeat = () => async () => {};

/** A target that holds each batch until the test answers it, as a subscriber that hangs would. */
class HangingTarget {
  readonly batches: number[][] = [];
  private answers: ((outcome: DeliveryOutcome) => void)[] = [];
  async deliver(batch: OutgoingBatch): Promise<DeliveryOutcome> {
    const offsets = [];
    for (let offset = batch.firstOffset; offset <= batch.lastOffset; offset++) offsets.push(offset);
    this.batches.push(offsets);
    return new Promise((resolve) => this.answers.push(resolve));
  }
  async invoked(): Promise<void> {
    while (this.answers.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  answer(outcome: DeliveryOutcome): void {
    this.answers.shift()?.(outcome);
  }
}

/** A target that takes everything at once. */
function acceptingTarget() {
  const batches: number[][] = [];
  return {
    batches,
    deliver: async (batch: OutgoingBatch): Promise<DeliveryOutcome> => {
      batches.push([batch.firstOffset, batch.lastOffset]);
      return { status: 'delivered' };
    },
  };
}

async function groupWithEvents(count: number, options: { maxAttempts?: number } = {}) {
  const topic = uniqueTopic('lease');
  await core.topics.create({ name: topic, partitions: 1, retentionHours: 24 });
  await core.log.append(
    topic,
    0,
    24,
    Array.from({ length: count }, (_, n) => record({ n })),
  );
  const group = await createGroup(core, topic, { batchSize: 10, maxAttempts: options.maxAttempts ?? 3 });
  return { topic, group, ref: { cursor: group, partition: 0 } };
}

describe('short, fenced leases', () => {
  test('a deliverer that stops mid-invoke: another takes over once its lease lapses, within 15 s, and its late commit is refused', async () => {
    // GIVEN deliverer A stalled inside the target with events 0..4, its heartbeat stopped with it
    const { ref } = await groupWithEvents(5);
    const time = clock();
    const stalled = new HangingTarget();
    const a = testDeliverer(core, stalled, { now: time.now, heartbeat: frozen }).deliver(ref, BUDGET);
    await stalled.invoked();

    // WHEN B is woken while A's lease lasts, nothing is delivered twice
    const b = acceptingTarget();
    time.advance(LEASE_MS / 2);
    expect((await testDeliverer(core, b, { now: time.now }).deliver(ref, BUDGET)).result).toBe('held');
    // AND once the lease has lapsed — 10 s after A's last sign of life, inside 15 s — B takes over
    time.advance(LEASE_MS / 2 + 1);
    expect((await testDeliverer(core, b, { now: time.now }).deliver(ref, BUDGET)).result).toBe('caught-up');
    expect(b.batches).toEqual([[0, 4]]);
    expect((await core.cursors.read(ref))?.committed).toBe(5);

    // THEN when A wakes up and its target answers, its commit is refused: B's stands
    stalled.answer({ status: 'delivered' });
    expect((await a).result).toBe('held');
    expect(stalled.batches).toEqual([[0, 1, 2, 3, 4]]);
    expect((await core.cursors.read(ref))?.committed).toBe(5);
  });

  test('a live deliverer in a long invocation keeps its lease by its heartbeat: nobody takes over', async () => {
    const { ref } = await groupWithEvents(3);
    const time = clock();
    const beats: (() => Promise<boolean>)[] = [];
    const onDemand: Heartbeat = (beat) => {
      beats.push(beat);
      return async () => {};
    };
    const slow = new HangingTarget();
    const a = testDeliverer(core, slow, { now: time.now, heartbeat: onDemand }).deliver(ref, BUDGET);
    await slow.invoked();
    // Thirty seconds of invocation, a beat every eight: the lease never lapses.
    for (let second = 0; second < 30; second += 8) {
      time.advance(8_000);
      expect(await beats[0]()).toBe(true);
      expect(
        (await testDeliverer(core, acceptingTarget(), { now: time.now }).deliver(ref, BUDGET)).result,
      ).toBe('held');
    }
    slow.answer({ status: 'delivered' });
    expect((await a).result).toBe('caught-up');
    expect((await core.cursors.read(ref))?.committed).toBe(3);
  });

  test("a stale holder's dead letter is refused: only the holder of the lease may append one", async () => {
    // GIVEN A stalled inside the target with event 0, the last attempt it has
    const { group, ref } = await groupWithEvents(1, { maxAttempts: 1 });
    const time = clock();
    const stalled = new HangingTarget();
    const a = testDeliverer(core, stalled, { now: time.now, heartbeat: frozen }).deliver(ref, BUDGET);
    await stalled.invoked();
    // WHEN B takes the lapsed lease over and delivers event 0
    time.advance(LEASE_MS + 1);
    const b = acceptingTarget();
    expect((await testDeliverer(core, b, { now: time.now }).deliver(ref, BUDGET)).result).toBe('caught-up');
    expect(b.batches).toEqual([[0, 0]]);
    // AND A wakes up to its target's failure, which would dead-letter event 0
    stalled.answer({ status: 'failed', error: 'boom' });
    // THEN A stops: no dead letter for an event the group has delivered
    expect((await a).result).toBe('held');
    expect(await core.topics.find(`${group}.dlq`)).toBeUndefined();
    expect((await core.cursors.read(ref))?.committed).toBe(1);
  });
});
