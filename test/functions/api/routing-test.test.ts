import { startTestApi, type TestApi } from '../../support/api';
import { uniqueTopic } from '../../support/aws';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api.close();
});

async function topicWith(partitions: number): Promise<string> {
  const topic = uniqueTopic('rt');
  const res = await api.request('PUT', `/topics/${topic}`, { body: { partitions, retentionHours: 24 } });
  expect(res.status).toBe(201);
  return topic;
}

const bigOrders = { value: { total: [{ numeric: ['>', 100] }] } };

describe('POST /routing/test', () => {
  test('tries a filter, a transform and a key on sample events: per event matched or not, the value and key, or the error', async () => {
    const res = await api.request('POST', '/routing/test', {
      body: {
        filter: bigOrders,
        transform: { jsonata: '{"id": key, "big": value.total * $number(headers.rate)}' },
        key: 'value.customer',
        events: [
          { key: 'o-1', value: { total: 150, customer: 'c-9' }, headers: { rate: '2' } },
          { key: 'o-2', value: { total: 50, customer: 'c-9' } },
          { key: 'o-3', value: { total: 500, customer: 'c-1' }, headers: { rate: 'x' } },
          { key: 'o-4', value: { total: 101 }, headers: { rate: '1' } },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([
      { index: 0, matched: true, value: { id: 'o-1', big: 300 }, key: 'c-9' },
      { index: 1, matched: false },
      { index: 2, matched: true, error: expect.stringMatching(/^transform failed: .*number/i) },
      {
        index: 3,
        matched: true,
        error: expect.stringMatching(/key expression failed: transform yielded nothing/),
      },
    ]);
    expect(res.body.counts).toEqual({ read: 4, matched: 3, failed: 2 });
    expect(res.body.next).toBeUndefined();
  });

  test('without routing every sample matches unchanged, keeping its own key', async () => {
    const res = await api.request('POST', '/routing/test', {
      body: { events: [{ key: 'k', value: 'text' }, { value: [1, 2] }] },
    });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([
      { index: 0, matched: true, value: 'text', key: 'k' },
      { index: 1, matched: true, value: [1, 2], key: null },
    ]);
  });

  test("tries a topic's retained events, spread over its partitions, and writes nothing anywhere", async () => {
    // GIVEN a topic with 3 partitions and 1,500 events of which 4 are big orders
    const topic = await topicWith(3);
    const big = new Set([7, 400, 999, 1_401]);
    for (let start = 0; start < 1_500; start += 500) {
      const events = Array.from({ length: 500 }, (_, i) => ({
        key: `order-${start + i}`,
        value: { n: start + i, total: big.has(start + i) ? 250 : 10 },
      }));
      expect((await api.request('POST', `/topics/${topic}/events`, { body: { events } })).status).toBe(200);
    }
    const before = (await api.request('GET', `/topics/${topic}`)).body;

    // WHEN its first 1,000 events are tried with a filter matching few
    const first = await api.request('POST', '/routing/test', {
      body: { topic, filter: bigOrders, transform: { jsonata: 'value.n' }, limit: 1_000 },
    });

    // THEN 1,000 events from every partition are read, the matching ones shown with their value and key
    expect(first.status).toBe(200);
    expect(first.body.counts.read).toBe(1_000);
    expect(first.body.results).toHaveLength(1_000);
    const partitions = new Set(first.body.results.map((r: { partition: number }) => r.partition));
    expect(partitions).toEqual(new Set([0, 1, 2]));
    const matched = first.body.results.filter((r: { matched: boolean }) => r.matched);
    expect(first.body.counts.matched).toBe(matched.length);
    for (const result of matched) expect(big.has(result.value)).toBe(true);
    expect(matched.map((r: { key: string }) => r.key)).toEqual(
      matched.map((r: { value: number }) => `order-${r.value}`),
    );

    // AND going on from `next`, the rest are read and every big order was found once
    const rest = await api.request('POST', '/routing/test', {
      body: {
        topic,
        filter: bigOrders,
        transform: { jsonata: 'value.n' },
        from: first.body.next,
        limit: 1_000,
      },
    });
    expect(rest.status).toBe(200);
    expect(first.body.counts.read + rest.body.counts.read).toBe(1_500);
    const found = [...matched, ...rest.body.results.filter((r: { matched: boolean }) => r.matched)].map(
      (r: { value: number }) => r.value,
    );
    expect(found.sort((a, b) => a - b)).toEqual([...big]);
    expect(rest.body.next.offsets).toEqual(
      Object.fromEntries(
        before.partitions.map((p: { partition: number; endOffset: number }) => [p.partition, p.endOffset]),
      ),
    );

    // AND one partition from an offset reads only that partition
    const one = await api.request('POST', '/routing/test', {
      body: { topic, from: { offsets: { '1': 5 } }, limit: 3 },
    });
    expect(
      one.body.results.map((r: { partition: number; offset: number }) => [r.partition, r.offset]),
    ).toEqual([
      [1, 5],
      [1, 6],
      [1, 7],
    ]);

    // AND nothing was appended nor created
    expect((await api.request('GET', `/topics/${topic}`)).body).toEqual(before);
    // (other test files create topics meanwhile: only this topic's own are looked at)
    const topics = (await api.request('GET', '/topics')).body.topics as { name: string }[];
    expect(topics.map((t) => t.name).filter((name) => name.startsWith(topic))).toEqual([topic]);
    const groups = (await api.request('GET', '/subscriptions')).body.subscriptions as { topic: string }[];
    expect(groups.filter((g) => g.topic === topic)).toEqual([]);
  }, 60_000);

  test('fails an invalid pattern with 400 and where it is wrong, as PUT /subscriptions does', async () => {
    const topic = await topicWith(1);
    const filter = { value: { total: [{ numeric: ['>>', 100] }] } };
    const tried = await api.request('POST', '/routing/test', { body: { filter, events: [{ value: 1 }] } });
    const subscribed = await api.request('PUT', '/subscriptions/rt-invalid', {
      body: { topic, target: { type: 'topic', topic }, filter },
    });
    expect(tried.status).toBe(400);
    expect(tried.body.error.code).toBe('INVALID_REQUEST');
    expect(tried.body.error.message).toMatch(/^filter\/value\/total\/0/);
    expect(tried.body.error.message).toBe(subscribed.body.error.message);

    const badTransform = await api.request('POST', '/routing/test', {
      body: { transform: { jsonata: '$$$(' }, events: [{ value: 1 }] },
    });
    expect(badTransform.status).toBe(400);
    expect(badTransform.body.error.message).toMatch(/transform\.jsonata does not compile/);
    const neither = await api.request('POST', '/routing/test', { body: { filter: bigOrders } });
    expect(neither.status).toBe(400);
    expect(neither.body.error.message).toMatch(/"events".*"topic"/);
  });

  test("fails with 403 reading a topic the key may not read; samples need no topic's access", async () => {
    const secret = await topicWith(1);
    const mine = await topicWith(1);
    const created = await api.request('POST', '/keys', {
      body: { acl: [{ topics: mine, permissions: ['read'] }] },
    });
    const key = created.body.key as string;
    const forbidden = await api.request('POST', '/routing/test', { key, body: { topic: secret } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');
    expect((await api.request('POST', '/routing/test', { key, body: { topic: mine } })).status).toBe(200);
    const samples = await api.request('POST', '/routing/test', { key, body: { events: [{ value: 1 }] } });
    expect(samples.status).toBe(200);
  });
});
