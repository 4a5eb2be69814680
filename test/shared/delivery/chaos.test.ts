import fc from 'fast-check';
import type { DeliveryBatch } from '../../../protocol';
import { DEAD_LETTER_HEADERS } from '../../../protocol';
import { type BusCore, createBusCore } from '../../../shared/bus';
import { CursorStore } from '../../../shared/delivery/cursor-store';
import { DeadLetters } from '../../../shared/delivery/dead-letters';
import { deadLetterTopic } from '../../../shared/delivery/subscription';
import type { DeliveryOutcome, OutgoingBatch } from '../../../shared/delivery/targets/target';
import { newLog, record, testConfig, uniqueTopic } from '../../support/aws';
import { createGroup, DELIVERY_TEST_ENV, testDeliverer } from '../../support/delivery';
import { chaosClients, noFaults, prng, RANDOM_FAULTS } from '../../support/faults';

/**
 * Deliverer invocations, two at a time as Lambda may run them, deliver one
 * group-partition while faults hit their writes at random (the lease, the
 * commits, the dead letters: refused, answer lost, the invocation dying;
 * its reads of the cursor refused now and then)
 * and the subscriber answers at random (success, failure, a partial failure;
 * two events fail always). Time is one injected clock, moved on past leases
 * and retry delays, so a run takes seconds. The conditions and the reads run
 * in DynamoDB Local; only the faults and the subscriber's answers are made up.
 *
 * Whatever happens: every event ends up accepted by the subscriber or in the
 * group's dead-letter topic with its payload; no batch starts past an event
 * that was neither (nothing skipped, order kept); each batch is a run of
 * consecutive offsets from where the group stood.
 */

const EVENTS = 90;
const POISON = new Set([9, 23, 61]);

const core: BusCore = createBusCore({
  env: { ...process.env, ...DELIVERY_TEST_ENV },
  waker: { wake: async () => {} },
});

interface Call {
  readonly offsets: number[];
  /** The offsets the subscriber accepted in this call. */
  readonly accepted: number[];
}

async function scenario(seed: number, rate: number) {
  const random = prng(seed);
  const faults = noFaults();
  const topic = uniqueTopic('dchaos');
  await core.topics.create({ name: topic, partitions: 1, retentionHours: 24 });
  for (let n = 0; n < EVENTS; n += 5)
    await core.log.append(
      topic,
      0,
      24,
      Array.from({ length: 5 }, (_, i) => record({ n: n + i })),
    );
  const group = await createGroup(core, topic, { prefix: 'dchaos', batchSize: 6, maxAttempts: 3 });
  const ref = { cursor: group, partition: 0 };

  let skew = 0;
  const now = () => Date.now() + skew;
  const calls: Call[] = [];
  const answer = (batch: DeliveryBatch): DeliveryOutcome => {
    const offsets = batch.events.map((e) => e.offset);
    const poisoned = offsets.findIndex((o) => POISON.has(o));
    const roll = random();
    let lowest = poisoned === -1 ? undefined : poisoned;
    if (roll < 0.15) lowest = 0;
    else if (roll < 0.3) lowest = Math.min(lowest ?? offsets.length, Math.floor(random() * offsets.length));
    const accepted = lowest === undefined ? offsets : offsets.slice(0, lowest);
    calls.push({ offsets, accepted });
    if (lowest === undefined) return { status: 'delivered' };
    if (lowest === 0) return { status: 'failed', error: 'subscriber failed' };
    return { status: 'partial', lowestFailed: offsets[lowest], error: 'subscriber failed on one' };
  };

  const invocation = () => {
    const { dynamo } = chaosClients(random, rate, faults);
    const target = {
      deliver: async (outgoing: OutgoingBatch) => answer(JSON.parse(outgoing.body) as DeliveryBatch),
    };
    return testDeliverer(core, target, {
      cursors: new CursorStore(dynamo, testConfig().groupsTable),
      deadLetters: new DeadLetters(newLog({ dynamo }), core.topics, now),
      backoff: { baseMs: 50, maxMs: 1_000 },
      now,
      // A retry delay passes on the shared clock, not in real time.
      sleep: async (ms) => {
        skew += ms;
      },
    });
  };

  for (let round = 0; round < 300; round++) {
    const state = await core.cursors.read(ref);
    if (state && state.committed >= EVENTS) break;
    const runs = await Promise.allSettled([
      invocation().deliver(ref, 20_000),
      invocation().deliver(ref, 20_000),
    ]);
    // A lease left by an invocation that died, or a retry not yet due: time moves on.
    if (runs.every((r) => r.status === 'rejected' || r.value.result !== 'caught-up')) skew += 26_000;
    else skew += 1_000;
  }

  const deadLettered = (await core.log.read(deadLetterTopic(group), 0, 0, 1000).catch(() => undefined))
    ?.records;
  return { faults, calls, deadLettered: deadLettered ?? [], cursor: await core.cursors.read(ref) };
}

describe('delivery under random faults', () => {
  test('invocations meeting refused requests, lost answers and deaths, and a subscriber that fails at random, skip nothing, keep order and lose nothing', async () => {
    const totals = noFaults();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const { faults, calls, deadLettered, cursor } = await scenario(seed, 0.2);
        for (const fault of RANDOM_FAULTS) totals[fault] += faults[fault];

        // The group got through: every event accepted or dead-lettered, the dead letters with their payloads.
        expect(cursor?.committed).toBe(EVENTS);
        const accepted = new Set(calls.flatMap((c) => c.accepted));
        const dead = new Map(
          deadLettered.map((r) => [
            Number(r.headers[DEAD_LETTER_HEADERS.offset]),
            JSON.parse(r.value.toString()),
          ]),
        );
        for (let offset = 0; offset < EVENTS; offset++) {
          if (!accepted.has(offset)) expect(dead.get(offset)).toEqual({ n: offset });
        }
        for (const offset of POISON) expect(dead.get(offset)).toEqual({ n: offset });
        // Each batch is consecutive offsets, and starts where everything before it was accepted or dead-lettered.
        const done = new Set<number>();
        for (const call of calls) {
          const first = call.offsets[0];
          expect(call.offsets).toEqual(call.offsets.map((_, i) => first + i));
          for (let offset = 0; offset < first; offset++)
            expect(done.has(offset) || dead.has(offset)).toBe(true);
          for (const offset of call.accepted) done.add(offset);
        }
      }),
      { numRuns: 6, endOnFailure: true },
    );
    // Every kind of fault was met.
    for (const fault of RANDOM_FAULTS) expect(totals[fault]).toBeGreaterThan(0);
  }, 600_000);
});
