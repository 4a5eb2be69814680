import { randomUUID } from 'node:crypto';
import { DEAD_LETTER_HEADERS } from '../../../protocol';
import type { TestApi } from '../../support/api';
import { type DeliveryHarness, useWebhookBus } from '../../support/delivery';

const bus = useWebhookBus('route');
const PREFIX = bus.prefix;
const { topicWith, publish } = bus;
let api: TestApi;
let harness: DeliveryHarness;
beforeAll(() => {
  ({ api, harness } = bus);
});

const subscribe = (topic: string, options: Record<string, unknown>) =>
  bus.subscribe(topic, { startFrom: 'earliest', ...options });

async function lagOf(group: string): Promise<number> {
  const res = await api.request('GET', `/subscriptions/${group}`);
  return (res.body.partitions as { lag: number }[]).reduce((sum, p) => sum + p.lag, 0);
}

describe('routing: filters and transforms', () => {
  test('a filter delivers only matching events, in order, and the group commits past the rest (lag 0)', async () => {
    // GIVEN a group that wants big created orders only
    const topic = await topicWith(1);
    const filter = { headers: { type: ['order.created'] }, value: { total: [{ numeric: ['>', 100] }] } };
    const { receiver, group, body } = await subscribe(topic, { filter });
    expect(body.filter).toEqual(filter);

    // WHEN 1,200 events are published of which 3 match, spread through the log
    const events = Array.from({ length: 1200 }, (_, i) => ({
      value: { n: i, total: [5, 400, 777].includes(i) ? 150 : 50 },
      headers: { type: i === 777 ? 'order.cancelled' : 'order.created' },
    }));
    events.push({ value: { n: 1200, total: 101 }, headers: { type: 'order.created' } });
    const results: { partition: number; offset: number }[] = [];
    for (let i = 0; i < events.length; i += 100)
      results.push(...(await publish(topic, events.slice(i, i + 100))));

    // THEN exactly the matching events arrive, in offset order, and nothing else
    const wanted = [5, 400, 1200].map((n) => results[n].offset);
    await receiver.until((r) => r.offsets().includes(wanted[2]));
    await harness.waker.idle();
    expect(receiver.offsets()).toEqual(wanted);
    // AND the group is caught up: the events it does not want are committed past, not owed
    expect(await lagOf(group)).toBe(0);
  });

  test('a transform reshapes what the target receives; offsets, keys and headers stay', async () => {
    const topic = await topicWith(1);
    const { receiver } = await subscribe(topic, {
      transform: {
        jsonata: '{"order": key, "units": $sum(value.items.qty), "at": partition & "/" & offset}',
      },
    });
    const [result] = await publish(topic, [
      { key: 'o-1', value: { items: [{ qty: 2 }, { qty: 3 }] }, headers: { source: 'shop' } },
    ]);
    await receiver.until((r) => r.offsets().length === 1);
    const [event] = receiver.batches[0].batch.events;
    expect(event).toMatchObject({ offset: result.offset, key: 'o-1', headers: { source: 'shop' } });
    expect(event.value).toEqual({ order: 'o-1', units: 5, at: `0/${result.offset}` });
  });

  test('an event whose transform fails is retried, then dead-lettered with its payload and what the expression said; the rest flow', async () => {
    const topic = await topicWith(1);
    const { receiver, group } = await subscribe(topic, {
      maxAttempts: 2,
      transform: { jsonata: 'value.ok ? {"n": value.n} : $error("not ok: " & value.n)' },
    });
    const results = await publish(topic, [
      { value: { n: 1, ok: true } },
      { value: { n: 2, ok: false } },
      { value: { n: 3, ok: true } },
    ]);
    await receiver.until((r) => r.offsets().includes(results[2].offset));
    expect(receiver.offsets()).toEqual([results[0].offset, results[2].offset]);
    expect(receiver.batches.flatMap((b) => b.batch.events.map((e) => e.value))).toEqual([{ n: 1 }, { n: 3 }]);
    const dlq = await api.request('GET', `/topics/${group}.dlq/partitions/0/events?offset=0`);
    expect(dlq.body.events).toHaveLength(1);
    const [letter] = dlq.body.events;
    expect(letter.value).toEqual({ n: 2, ok: false });
    expect(letter.headers[DEAD_LETTER_HEADERS.error]).toContain('not ok: 2');
    expect(letter.headers[DEAD_LETTER_HEADERS.attempts]).toBe('2');
  });

  test.each([
    [
      'a filter with a wrong operator',
      { filter: { value: { total: [{ numeric: ['>', 1, '>', 2] }] } } },
      'filter/value/total/0/numeric/2',
    ],
    ['a filter that is not an object', { filter: ['x'] }, '"filter" must be an EventBridge event pattern'],
    ['a transform that does not compile', { transform: { jsonata: '$sum(value.' } }, 'does not compile'],
    [
      'a transform with a regex RE2 refuses',
      { transform: { jsonata: '$match(key, /(a)\\1/)' } },
      'linear time',
    ],
    ['a transform of another shape', { transform: 'value' }, '"transform" must be {"jsonata"'],
  ])('refuses %s with 400 saying where, and creates nothing', async (_name, options, message) => {
    const topic = await topicWith(1);
    const group = `${PREFIX}-bad-${randomUUID().slice(0, 6)}`;
    const res = await api.request('PUT', `/subscriptions/${group}`, {
      body: { topic, target: { type: 'webhook', url: 'https://example.com/hook' }, ...options },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_REQUEST');
    expect(res.body.error.message).toContain(message);
    expect((await api.request('GET', `/subscriptions/${group}`)).status).toBe(404);
  });
});
