import { randomUUID } from 'node:crypto';
import { partitionForKey } from '../../../protocol';
import { createBusCore } from '../../../shared/bus';
import { initializeCursor } from '../../../shared/delivery/cursor';
import { DeadLetters } from '../../../shared/delivery/dead-letters';
import { Deliverer } from '../../../shared/delivery/deliverer';
import type { StoredSubscription } from '../../../shared/delivery/subscription';
import { IdempotentAppends } from '../../../shared/publish/idempotent-appends';
import { DEFAULT_LIMITS } from '../../../shared/publish/limits';
import { ORIGIN_HEADER, TopicTargets } from '../../../shared/routing/topic-target';
import { SchemaRegistry } from '../../../shared/schemas/schema-registry';
import { TopicSchemas } from '../../../shared/schemas/topic-schemas';
import { record, uniqueTopic } from '../../support/aws';
import { DELIVERY_TEST_ENV } from '../../support/delivery';
import { chaosClients, type FaultCounts, noFaults, prng } from '../../support/faults';

/**
 * A group routes one topic into another (filter, transform, a computed key)
 * while faults hit its deliverers' requests at random: a write refused, an
 * answer lost after DynamoDB applied the write (so an append landed and its
 * answer, or a commit landed and its answer, is lost), and an instance that
 * dies before a write leaves or right after it landed — mid-batch, between
 * the append and the commit, or anywhere else — after which nothing it sends
 * lands. A dead (or failed) instance is replaced by a fresh one, which takes
 * the lease over and goes on. The conditions run in DynamoDB Local; only the
 * faults are injected.
 *
 * Whatever the interleaving, the target topic holds every matching source
 * event exactly once — transformed, on its key's partition — and, within each
 * target partition, the events of one source partition in offset order.
 */

const SOURCE_PARTITIONS = 2;
const TARGET_PARTITIONS = 3;
const EVENTS = 160;
/** Far enough apart that a replacement never waits out a dead instance's lease or idempotency lock. */
const GENERATION_MS = 3_600_000;
const FIXED_SEED = 20_261_204;
const RANDOM_SEED = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

const env = { ...process.env, ...DELIVERY_TEST_ENV };

/**
 * One deliverer instance: its own clients, meeting faults with probability
 * `rate`; a clock `generation` hours ahead of the last instance's, on which
 * its waits pass at once (nothing else shares its clock).
 */
function instance(random: () => number, rate: number, faults: FaultCounts, generation: number) {
  const { dynamo, s3, dead } = chaosClients(random, rate, faults);
  const core = createBusCore({ env, clients: { dynamo, s3 }, waker: { wake: async () => {} } });
  let ahead = generation * GENERATION_MS;
  const now = () => Date.now() + ahead;
  const deliverer = new Deliverer({
    log: core.log,
    cursors: core.cursors,
    subscriptions: core.subscriptions,
    topics: core.topics,
    deadLetters: new DeadLetters(core.log, core.topics, now),
    targetFor: () => {
      throw new Error('a topic target invokes nothing');
    },
    waker: core.waker,
    now,
    sleep: async (ms) => {
      ahead += ms;
    },
    backoff: { baseMs: 10, maxMs: 1_000 },
    topicTargets: new TopicTargets({
      topics: core.topics,
      appends: new IdempotentAppends(dynamo, core.config.registryTable, core.log, now),
      schemas: new TopicSchemas(new SchemaRegistry(dynamo, core.config.registryTable)),
      limits: DEFAULT_LIMITS,
      now,
    }),
  });
  return { deliverer, dead };
}

async function scenario(seed: number, rate: number) {
  const random = prng(seed);
  const core = createBusCore({ env, waker: { wake: async () => {} } });
  const source = uniqueTopic('route-src');
  const target = uniqueTopic('route-dst');
  await core.topics.create({ name: source, partitions: SOURCE_PARTITIONS, retentionHours: 24 });
  await core.topics.create({ name: target, partitions: TARGET_PARTITIONS, retentionHours: 24 });
  // GIVEN events on both source partitions, about half of them wanted, in segments of several events
  const wanted = new Map<string, { n: number; customer: string }>();
  for (let partition = 0; partition < SOURCE_PARTITIONS; partition++) {
    for (let n = 0; n < EVENTS / SOURCE_PARTITIONS; ) {
      const size = 1 + Math.floor(random() * 6);
      const values = Array.from({ length: size }, (_, i) => ({
        n: n + i,
        big: random() < 0.5,
        customer: `c-${Math.floor(random() * 9)}`,
      }));
      const { baseOffset } = await core.log.append(
        source,
        partition,
        24,
        values.map((value) => record(value)),
      );
      values.forEach((value, i) => {
        if (value.big) wanted.set(`${source}/${partition}/${baseOffset + i}`, value);
      });
      n += size;
    }
  }
  const group = `route-chaos-${randomUUID().slice(0, 8)}`;
  const subscription: StoredSubscription = {
    group,
    topic: source,
    target: { type: 'topic', topic: target, key: 'value.customer' },
    filter: { value: { big: [true] } },
    transform: { jsonata: '{"n": value.n, "at": offset}' },
    batchSize: 1 + Math.floor(random() * 8),
    maxAttempts: 3,
    startFrom: 'earliest',
    delivery: 'at-least-once',
    timeoutSeconds: 30,
    createdAt: new Date().toISOString(),
  };
  await core.subscriptions.create(subscription);

  // WHEN deliverers meeting faults route each partition until it is caught up, a fresh one after each failure
  const faults = noFaults();
  let generation = 0;
  let current = instance(random, rate, faults, generation);
  for (let partition = 0; partition < SOURCE_PARTITIONS; partition++) {
    await initializeCursor(core.log, core.cursors, subscription, partition);
    const end = await core.log.endOffset(source, partition);
    for (let attempt = 0; ; attempt++) {
      const state = await core.cursors.read({ cursor: group, partition });
      if (state && state.committed >= end && state.appendingUntil === undefined) break;
      if (attempt > 500) throw new Error(`seed ${seed}: partition ${partition} made no progress`);
      const run = await current.deliverer
        .deliver({ cursor: group, partition }, 60_000)
        .catch((error: Error) => error);
      if (run instanceof Error || run.result === 'held' || current.dead()) {
        current = instance(random, rate, faults, ++generation);
      }
    }
  }

  // THEN every wanted event is in the target exactly once, transformed, on its key's partition
  const seen = new Map<string, number>();
  for (let partition = 0; partition < TARGET_PARTITIONS; partition++) {
    const { records } = await core.log.read(target, partition, 0, 10_000);
    const lastOffset = new Map<number, number>();
    for (const routed of records) {
      const origin = routed.headers[ORIGIN_HEADER];
      seen.set(origin, (seen.get(origin) ?? 0) + 1);
      const expected = wanted.get(origin);
      const [, from, offset] = origin.split('/').map(Number);
      expect(expected).toBeDefined();
      expect(JSON.parse(routed.value.toString())).toEqual({ n: expected?.n, at: offset });
      expect(routed.key?.toString()).toBe(expected?.customer);
      expect(partitionForKey(expected?.customer as string, TARGET_PARTITIONS)).toBe(partition);
      // AND one source partition's events keep their order
      expect(offset).toBeGreaterThan(lastOffset.get(from) ?? -1);
      lastOffset.set(from, offset);
    }
  }
  const duplicates = [...seen].filter(([, count]) => count > 1);
  const missing = [...wanted.keys()].filter((origin) => !seen.has(origin));
  expect({ seed, duplicates, missing }).toEqual({ seed, duplicates: [], missing: [] });
  // AND nothing was given up on: storage trouble never dead-letters a routed event
  expect(await core.topics.find(`${group}.dlq`)).toBeUndefined();
  return { faults, instances: generation + 1 };
}

describe('topic targets under faults: every matching source event exactly once in the target', () => {
  test.each([
    [`a fixed seed (${FIXED_SEED})`, FIXED_SEED],
    [`a random seed (${RANDOM_SEED}; replay with CHAOS_SEED=${RANDOM_SEED})`, RANDOM_SEED],
  ])(
    '%s',
    async (_name, seed) => {
      const total = noFaults();
      let instances = 0;
      for (const [round, rate] of [0.05, 0.15].entries()) {
        const outcome = await scenario(seed + round, rate);
        for (const [fault, count] of Object.entries(outcome.faults))
          total[fault as keyof FaultCounts] += count;
        instances += outcome.instances;
      }
      // The faults did happen: answers lost after the write landed, and instances dead mid-run
      expect(total['lost answer']).toBeGreaterThan(0);
      expect(total['dies after write'] + total['dies before send']).toBeGreaterThan(0);
      expect(instances).toBeGreaterThan(2);
    },
    300_000,
  );
});
