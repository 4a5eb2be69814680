import { randomUUID } from 'node:crypto';
import { DEAD_LETTER_HEADERS, partitionForKey } from '../../../protocol';
import { startTestApi, type TestApi } from '../../support/api';
import { uniqueTopic } from '../../support/aws';
import { DELIVERY_TEST_ENV, type DeliveryHarness, startDelivery } from '../../support/delivery';

// Every group of this file starts with this prefix, so only this file's deliverers run them.
const PREFIX = `into-${randomUUID().slice(0, 6)}`;
let harness: DeliveryHarness;
let api: TestApi;

beforeAll(async () => {
  harness = startDelivery((cursor) => cursor.startsWith(PREFIX));
  api = await startTestApi(undefined, {
    env: { ...process.env, ...DELIVERY_TEST_ENV },
    waker: harness.waker,
  });
});
afterAll(async () => {
  await harness.stop();
  await api.close();
});

interface ReadEvent {
  offset: number;
  key: string | null;
  value: any;
  headers: Record<string, string>;
}

async function topicWith(partitions: number, name = uniqueTopic()): Promise<string> {
  const res = await api.request('PUT', `/topics/${name}`, { body: { partitions, retentionHours: 24 } });
  expect(res.status).toBe(201);
  return name;
}

function route(from: string, target: Record<string, unknown>, options: Record<string, unknown> = {}) {
  const group = `${PREFIX}-${randomUUID().slice(0, 6)}`;
  return {
    group,
    put: (key?: string) =>
      api.request('PUT', `/subscriptions/${group}`, {
        body: { topic: from, target: { type: 'topic', ...target }, startFrom: 'earliest', ...options },
        ...(key ? { key } : {}),
      }),
  };
}

async function publish(topic: string, events: unknown[]) {
  const res = await api.request('POST', `/topics/${topic}/events`, { body: { events } });
  expect(res.status).toBe(200);
  return res.body.results as { partition: number; offset: number }[];
}

async function readAll(topic: string, partition: number): Promise<ReadEvent[]> {
  const res = await api.request('GET', `/topics/${topic}/partitions/${partition}/events?offset=0&limit=1000`);
  expect(res.status).toBe(200);
  return res.body.events;
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function lagOf(group: string): Promise<number> {
  const res = await api.request('GET', `/subscriptions/${group}`);
  return (res.body.partitions as { lag: number }[]).reduce((sum, p) => sum + p.lag, 0);
}

describe('topic targets: a subscription that routes into another topic', () => {
  test('matching events are transformed, re-keyed and appended once each, in source order, with their origin', async () => {
    // GIVEN orders on 2 partitions routed into "big" (3 partitions): totals over 100, reshaped, keyed by customer
    const orders = await topicWith(2);
    const big = await topicWith(3);
    const { group, put } = route(
      orders,
      { topic: big, key: 'value.customer' },
      {
        filter: { value: { total: [{ numeric: ['>', 100] }] } },
        transform: { jsonata: '{"order": key, "total": value.total}' },
      },
    );
    const created = await put();
    expect(created.status).toBe(201);
    expect(created.body.target).toEqual({ type: 'topic', topic: big, key: 'value.customer' });

    // WHEN 300 orders are published, one in three big
    const events = Array.from({ length: 300 }, (_, i) => ({
      key: `o-${i}`,
      value: { total: i % 3 === 0 ? 150 + i : 20, customer: `c-${i % 7}` },
      headers: { source: 'shop' },
    }));
    const results: { partition: number; offset: number }[] = [];
    for (let i = 0; i < events.length; i += 100)
      results.push(...(await publish(orders, events.slice(i, i + 100))));

    // THEN "big" holds exactly the 100 big orders, once each
    const readBig = async () => (await Promise.all([0, 1, 2].map((p) => readAll(big, p)))).flat();
    await until(async () => (await readBig()).length >= 100, '100 routed events');
    await harness.waker.idle();
    const routed = await readBig();
    expect(routed).toHaveLength(100);
    const bySource = new Map(routed.map((event) => [event.headers['eventbus-origin'], event]));
    expect(bySource.size).toBe(100);
    events.forEach((event, i) => {
      const origin = `${orders}/${results[i].partition}/${results[i].offset}`;
      const copy = bySource.get(origin);
      if (i % 3 !== 0) {
        expect(copy).toBeUndefined();
        return;
      }
      // AND each is transformed, keyed by its customer, on the customer's partition, with the source's headers
      expect(copy?.value).toEqual({ order: `o-${i}`, total: 150 + i });
      expect(copy?.key).toBe(event.value.customer);
      expect(copy?.headers.source).toBe('shop');
    });
    for (const partition of [0, 1, 2]) {
      const here = await readAll(big, partition);
      for (const event of here) expect(partitionForKey(event.key as string, 3)).toBe(partition);
      // AND events of one source partition keep their order within each target partition
      for (const source of [0, 1]) {
        const offsets = here
          .map((event) => event.headers['eventbus-origin'].split('/'))
          .filter(([, p]) => Number(p) === source)
          .map(([, , offset]) => Number(offset));
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      }
    }
    // AND the group is caught up
    expect(await lagOf(group)).toBe(0);
  });

  test("an event the target topic's schema refuses is dead-lettered as published, with the violation; the rest flow", async () => {
    // GIVEN a target topic whose schema wants a numeric total
    const from = await topicWith(1);
    const into = await topicWith(1);
    const schema = await api.request('PUT', `/topics/${into}/schema`, {
      body: {
        schema: {
          type: 'object',
          properties: { total: { type: 'number' } },
          required: ['total'],
        },
      },
    });
    expect(schema.status).toBe(201);
    const { group, put } = route(
      from,
      { topic: into },
      { transform: { jsonata: '{"total": value.amount}' } },
    );
    expect((await put()).status).toBe(201);

    // WHEN the second of three events transforms into a value the schema refuses
    const results = await publish(from, [
      { value: { amount: 1 } },
      { value: { amount: 'two' } },
      { value: { amount: 3 } },
    ]);

    // THEN the other two are appended, carrying the target's schema version
    await until(async () => (await readAll(into, 0)).length === 2, 'two routed events');
    const routed = await readAll(into, 0);
    expect(routed.map((event) => event.value)).toEqual([{ total: 1 }, { total: 3 }]);
    expect(routed[0].headers['eventbus-schema-version']).toBe('1');
    // AND the refused one is a dead letter at once (no retries: a schema does not change its mind), as published
    await until(async () => (await lagOf(group)) === 0, 'the group to catch up');
    const dlq = await readAll(`${group}.dlq`, 0);
    expect(dlq).toHaveLength(1);
    expect(dlq[0].value).toEqual({ amount: 'two' });
    expect(dlq[0].headers[DEAD_LETTER_HEADERS.offset]).toBe(String(results[1].offset));
    expect(dlq[0].headers[DEAD_LETTER_HEADERS.attempts]).toBe('1');
    expect(dlq[0].headers[DEAD_LETTER_HEADERS.error]).toContain(`target topic "${into}" refused it`);
    expect(dlq[0].headers[DEAD_LETTER_HEADERS.error]).toContain('/total');
  });

  test('a redrive routes the dead letters again, once the target takes them, with their first origin', async () => {
    const from = await topicWith(1);
    const into = await topicWith(1);
    await api.request('PUT', `/topics/${into}/schema`, {
      body: { schema: { type: 'object', properties: { n: { type: 'integer' } } } },
    });
    const { group, put } = route(from, { topic: into });
    expect((await put()).status).toBe(201);
    const [first] = await publish(from, [{ value: { n: 'x' } }]);
    await until(async () => (await readAll(`${group}.dlq`, 0)).length === 1, 'a dead letter');

    // WHEN the target's schema evolves to take it, and the group redrives
    const evolved = await api.request('PUT', `/topics/${into}/schema`, {
      body: { schema: { type: 'object' }, compatibility: 'NONE' },
    });
    expect(evolved.status).toBe(201);
    // The deliverer's schema cache refreshes within 10 s; this test's deliverer is fresh enough only after it.
    await new Promise((resolve) => setTimeout(resolve, 10_500));
    expect((await api.request('POST', `/subscriptions/${group}/redrive`)).status).toBe(202);

    // THEN the event lands once, naming where it was first published, without the dead letter's bookkeeping
    await until(async () => (await readAll(into, 0)).length === 1, 'the redriven event');
    await harness.waker.idle();
    const [event] = await readAll(into, 0);
    expect(event.value).toEqual({ n: 'x' });
    expect(event.headers['eventbus-origin']).toBe(`${from}/0/${first.offset}`);
    expect(Object.keys(event.headers).filter((name) => name.startsWith('eventbus-dlq-'))).toEqual([]);
  }, 30_000);

  describe('refused at PUT, creating nothing', () => {
    test('a target topic that does not exist: 404', async () => {
      const from = await topicWith(1);
      const { group, put } = route(from, { topic: uniqueTopic() });
      const res = await put();
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('TOPIC_NOT_FOUND');
      expect((await api.request('GET', `/subscriptions/${group}`)).status).toBe(404);
    });

    test("the group's own topic: ROUTE_CYCLE", async () => {
      const from = await topicWith(1);
      const res = await route(from, { topic: from }).put();
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('ROUTE_CYCLE');
    });

    test('a route that comes back through other topic targets: ROUTE_CYCLE naming the circle', async () => {
      const [a, b, c] = [await topicWith(1), await topicWith(1), await topicWith(1)];
      expect((await route(a, { topic: b }).put()).status).toBe(201);
      expect((await route(b, { topic: c }).put()).status).toBe(201);
      const { group, put } = route(c, { topic: a });
      const res = await put();
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('ROUTE_CYCLE');
      expect(res.body.error.message).toContain(`${c} → ${a} → ${b} → ${c}`);
      expect((await api.request('GET', `/subscriptions/${group}`)).status).toBe(404);
      // AND a route that does not close a circle is fine
      expect((await route(c, { topic: await topicWith(1) }).put()).status).toBe(201);
    });

    test('two instances each closing half of a circle at the same time: one route lands, the other is ROUTE_CYCLE', async () => {
      // GIVEN a second API instance on the same tables, as a second Lambda instance would be
      const other = await startTestApi(undefined, {
        env: { ...process.env, ...DELIVERY_TEST_ENV },
        waker: harness.waker,
      });
      try {
        for (let round = 0; round < 4; round++) {
          const [a, b] = [await topicWith(1), await topicWith(1)];
          const there = route(a, { topic: b });
          const back = route(b, { topic: a });
          // WHEN a → b goes to one instance and b → a to the other, at once
          const [first, second] = await Promise.all([
            there.put(),
            other.request('PUT', `/subscriptions/${back.group}`, {
              body: { topic: b, target: { type: 'topic', topic: a }, startFrom: 'earliest' },
            }),
          ]);
          // THEN exactly one is created; the other names the circle, and no circle is stored
          expect([first.status, second.status].sort()).toEqual([201, 400]);
          const refused = first.status === 400 ? first : second;
          expect(refused.body.error.code).toBe('ROUTE_CYCLE');
          const stored = await Promise.all(
            [there.group, back.group].map(
              async (group) => (await api.request('GET', `/subscriptions/${group}`)).status,
            ),
          );
          expect(stored.sort()).toEqual([200, 404]);
        }
      } finally {
        await other.close();
      }
    });

    test.each([
      [
        'a dead-letter topic',
        async (from: string) => ({ topic: `${await deadLetterTopicOf(from)}` }),
        {},
        400,
      ],
      ['at most once', async () => ({ topic: await topicWith(1) }), { delivery: 'at-most-once' }, 400],
      ['a key that does not compile', async () => ({ topic: await topicWith(1), key: 'value.(' }), {}, 400],
      [
        'a key that changes from run to run ($random)',
        async () => ({ topic: await topicWith(1), key: '$string($random())' }),
        {},
        400,
      ],
    ])('%s: 400', async (_name, target, options, status) => {
      const from = await topicWith(1);
      const { group, put } = route(from, await target(from), options);
      const res = await put();
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe('INVALID_REQUEST');
      expect((await api.request('GET', `/subscriptions/${group}`)).status).toBe(404);
    });

    test('a key that may not publish to the target topic: 403; with publish there, 201', async () => {
      const from = await topicWith(1);
      const into = await topicWith(1);
      const keyWith = async (permissions: Record<string, string[]>) =>
        (
          await api.request('POST', '/keys', {
            body: {
              acl: Object.entries(permissions).map(([topics, granted]) => ({ topics, permissions: granted })),
            },
          })
        ).body.key as string;
      const { group, put } = route(from, { topic: into });
      const readOnly = await keyWith({ [from]: ['read'], [`${PREFIX}-*`]: ['admin'], [into]: ['read'] });
      const refused = await put(readOnly);
      expect(refused.status).toBe(403);
      expect((await api.request('GET', `/subscriptions/${group}`)).status).toBe(404);
      const publisher = await keyWith({ [from]: ['read'], [`${PREFIX}-*`]: ['admin'], [into]: ['publish'] });
      expect((await put(publisher)).status).toBe(201);
    });
  });
});

/** A group's dead-letter topic, made by subscribing a group (only the bus creates them). */
async function deadLetterTopicOf(from: string): Promise<string> {
  const group = `${PREFIX}-dlq-${randomUUID().slice(0, 6)}`;
  const res = await api.request('PUT', `/subscriptions/${group}`, {
    body: { topic: from, target: { type: 'lambda', function: 'unused' } },
  });
  expect(res.status).toBe(201);
  return `${group}.dlq`;
}
