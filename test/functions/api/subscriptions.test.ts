import { DEAD_LETTER_HEADERS, type DeliveryBatch } from '../../../protocol';
import type { TestApi } from '../../support/api';
import { uniqueTopic } from '../../support/aws';
import { type DeliveryHarness, useWebhookBus, type WebhookReceiver } from '../../support/delivery';

const bus = useWebhookBus('sub');
const PREFIX = bus.prefix;
const { group, topicWith, publish } = bus;
let api: TestApi;
let harness: DeliveryHarness;
beforeAll(() => {
  ({ api, harness } = bus);
});

/** A webhook receiver subscribed as `name`; it verifies every signature with the secret the bus returned. */
const subscribe = (name: string, topic: string, options: Record<string, unknown> = {}) =>
  bus.subscribe(topic, options, name);

function isSorted(values: number[]): boolean {
  return values.every((v, i) => i === 0 || values[i - 1] < v);
}

describe('subscriptions and delivery to webhooks', () => {
  test('two groups on one topic progress independently, each in offset order per partition, every event at least once', async () => {
    // GIVEN a topic with 3 partitions and two groups, one of which fails for a while
    const topic = await topicWith(3);
    const fast = await subscribe('fast', topic);
    const slow = await subscribe('slow', topic);
    let slowDown = true;
    slow.receiver.answer = () => (slowDown ? { status: 503 } : { status: 200 });

    // WHEN 60 keyed events are published in 6 requests
    const published: { partition: number; offset: number }[] = [];
    for (let request = 0; request < 6; request++) {
      published.push(
        ...(await publish(
          topic,
          Array.from({ length: 10 }, (_, i) => ({
            key: `k${(request * 10 + i) % 7}`,
            value: { n: request * 10 + i },
          })),
        )),
      );
    }

    // THEN the healthy group gets all of them while the other is still failing
    await fast.receiver.until((r) => new Set(r.offsets().map(String)).size >= 0 && countDistinct(r) === 60);
    expect(countDistinct(slow.receiver)).toBe(0);
    // AND once the other recovers, it catches up on its own
    slowDown = false;
    await slow.receiver.until((r) => countDistinct(r) === 60);
    for (const { receiver } of [fast, slow]) {
      for (let partition = 0; partition < 3; partition++) {
        const offsets = receiver.offsets(partition);
        const expected = published.filter((p) => p.partition === partition).map((p) => p.offset);
        // In order, nothing missing; a redelivery would repeat a run, never reorder.
        expect([...new Set(offsets)]).toEqual(expected.sort((a, b) => a - b));
        expect(isSorted(dedupeRuns(offsets))).toBe(true);
      }
    }
    // AND each group's state shows no lag
    const described = await api.request('GET', `/subscriptions/${slow.group}`);
    expect(described.status).toBe(200);
    expect(described.body.partitions.map((p: { lag: number }) => p.lag)).toEqual([0, 0, 0]);
    expect(described.body).not.toHaveProperty('secret');
  });

  test('a poison event is retried at growing intervals, dead-lettered with its payload and origin, the events behind it flow, and a redrive delivers it once fixed', async () => {
    // GIVEN a group that fails on one event, with 4 attempts
    const topic = await topicWith(1);
    const sub = await subscribe('poison', topic, { maxAttempts: 4, batchSize: 10 });
    const attemptsAt: number[] = [];
    let fixed = false;
    sub.receiver.answer = (batch: DeliveryBatch) => {
      if (!fixed && batch.events.some((e) => (e.value as { poison?: boolean }).poison)) {
        if (batch.events.length === 1) attemptsAt.push(Date.now());
        return { status: 500, body: 'cannot handle this' };
      }
      return { status: 200 };
    };

    // WHEN five events are published, the third of which is poison
    const results = await publish(topic, [
      { value: { n: 0 } },
      { value: { n: 1 } },
      { value: { n: 2, poison: true }, key: 'bad' },
      { value: { n: 3 } },
      { value: { n: 4 } },
    ]);
    const poisonOffset = results[2].offset;

    // THEN the events behind it arrive after the poison is given up on
    await sub.receiver.until((r) => r.offsets().includes(results[4].offset));
    expect(sub.receiver.offsets()).not.toContain(poisonOffset);
    expect(attemptsAt).toHaveLength(4);
    // AND the retries came at growing intervals: 200 ms base, equal jitter, never early
    const gaps = attemptsAt.slice(1).map((at, i) => at - attemptsAt[i]);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual((200 * 2 ** i) / 2 - 5);
    });
    expect(gaps[2]).toBeGreaterThanOrEqual(gaps[0]);

    // AND the dead letter holds the event's payload, key and its origin
    const dlq = await api.request('GET', `/topics/${sub.group}.dlq/partitions/0/events?offset=0`);
    expect(dlq.status).toBe(200);
    expect(dlq.body.events).toHaveLength(1);
    const [letter] = dlq.body.events;
    expect(letter.value).toEqual({ n: 2, poison: true });
    expect(letter.key).toBe('bad');
    expect(letter.headers[DEAD_LETTER_HEADERS.topic]).toBe(topic);
    expect(letter.headers[DEAD_LETTER_HEADERS.partition]).toBe('0');
    expect(letter.headers[DEAD_LETTER_HEADERS.offset]).toBe(String(poisonOffset));
    expect(letter.headers[DEAD_LETTER_HEADERS.attempts]).toBe('4');
    expect(letter.headers[DEAD_LETTER_HEADERS.error]).toContain('500');
    expect(Date.parse(letter.headers[DEAD_LETTER_HEADERS.time])).not.toBeNaN();

    // WHEN the subscriber is fixed and the dead letters redriven
    fixed = true;
    const before = sub.receiver.batches.length;
    const redrive = await api.request('POST', `/subscriptions/${sub.group}/redrive`);
    expect(redrive.status).toBe(202);
    expect(redrive.body.deadLetters).toBe(1);
    // THEN it is delivered once, from the dead-letter topic
    await sub.receiver.until((r) => r.batches.length > before);
    const redriven = sub.receiver.batches.slice(before);
    expect(redriven.map((b) => b.batch.topic)).toEqual([`${sub.group}.dlq`]);
    expect(redriven[0].batch.events.map((e) => e.value)).toEqual([{ n: 2, poison: true }]);
    // AND a second redrive has nothing left to deliver
    await harness.waker.idle();
    expect((await api.request('POST', `/subscriptions/${sub.group}/redrive`)).body.deadLetters).toBe(0);
    await harness.waker.idle();
    expect(sub.receiver.batches.length).toBe(before + 1);
  });

  test('a partial failure commits everything before the lowest failed offset', async () => {
    const topic = await topicWith(1);
    const sub = await subscribe('partial', topic, { batchSize: 10 });
    let failOnce = true;
    sub.receiver.answer = (batch) => {
      if (failOnce && batch.events.length > 5) {
        failOnce = false;
        const failed = batch.events[5].offset;
        return {
          status: 200,
          body: JSON.stringify({ batchItemFailures: [{ itemIdentifier: String(failed) }] }),
        };
      }
      return { status: 200 };
    };
    const results = await publish(
      topic,
      Array.from({ length: 10 }, (_, n) => ({ value: { n } })),
    );
    await sub.receiver.until((r) => r.offsets().length === 15);
    const batches = sub.receiver.batches.map((b) => b.batch.events.map((e) => e.offset));
    // The first answer failed the 6th event: it and those after it came again, those before did not.
    expect(batches[0]).toEqual(results.map((r) => r.offset));
    expect(batches[1][0]).toBe(results[5].offset);
    expect(batches.slice(1).flat()).toEqual(results.slice(5).map((r) => r.offset));
  });

  test('at-most-once never redelivers, even when the target fails', async () => {
    const topic = await topicWith(1);
    const sub = await subscribe('atmost', topic, { delivery: 'at-most-once', batchSize: 1 });
    let calls = 0;
    sub.receiver.answer = () => ({ status: ++calls === 1 ? 500 : 200 });
    const results = await publish(topic, [{ value: 1 }, { value: 2 }, { value: 3 }]);
    await sub.receiver.until((r) => r.offsets().includes(results[2].offset));
    await harness.waker.idle();
    // The first event's delivery failed and was not retried; the others came once each.
    expect(calls).toBe(3);
    expect(sub.receiver.offsets()).toEqual([results[1].offset, results[2].offset]);
  });

  test('replay from earliest and from a timestamp delivers again from there', async () => {
    const topic = await topicWith(1);
    const early = await publish(topic, [{ value: 'a' }, { value: 'b' }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const middle = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const late = await publish(topic, [{ value: 'c' }]);
    // startFrom latest: nothing published before is delivered
    const sub = await subscribe('replay', topic);
    const next = await publish(topic, [{ value: 'd' }]);
    await sub.receiver.until((r) => r.offsets().includes(next[0].offset));
    expect(sub.receiver.offsets()).toEqual([next[0].offset]);

    const reset = await api.request('POST', `/subscriptions/${sub.group}/offsets`, {
      body: { to: 'earliest' },
    });
    expect(reset.status).toBe(200);
    expect(reset.body.partitions).toEqual([{ partition: 0, committedOffset: 0 }]);
    await sub.receiver.until((r) => r.offsets().length === 5);
    expect(sub.receiver.offsets().slice(1)).toEqual([
      early[0].offset,
      early[1].offset,
      late[0].offset,
      next[0].offset,
    ]);

    const byTime = await api.request('POST', `/subscriptions/${sub.group}/offsets`, {
      body: { to: { timestamp: middle } },
    });
    expect(byTime.body.partitions).toEqual([{ partition: 0, committedOffset: late[0].offset }]);
    await sub.receiver.until((r) => r.offsets().length === 7);
    expect(sub.receiver.offsets().slice(5)).toEqual([late[0].offset, next[0].offset]);
  });

  test('a startFrom earliest subscription delivers the backlog', async () => {
    const topic = await topicWith(2);
    const results = await publish(topic, [
      { value: 1, partition: 0 },
      { value: 2, partition: 1 },
    ]);
    const sub = await subscribe('earliest', topic, { startFrom: 'earliest' });
    await sub.receiver.until((r) => r.offsets().length === 2);
    expect(sub.receiver.batches.map((b) => b.batch.partition).sort()).toEqual([0, 1]);
    expect(results).toHaveLength(2);
  });

  test('a deleted subscription stops receiving', async () => {
    const topic = await topicWith(1);
    const sub = await subscribe('deleted', topic);
    const first = await publish(topic, [{ value: 1 }]);
    await sub.receiver.until((r) => r.offsets().includes(first[0].offset));
    expect((await api.request('DELETE', `/subscriptions/${sub.group}`)).status).toBe(204);
    expect((await api.request('GET', `/subscriptions/${sub.group}`)).body.error.code).toBe(
      'SUBSCRIPTION_NOT_FOUND',
    );
    await publish(topic, [{ value: 2 }]);
    // Give the stream and two sweeps the chance to deliver it, had the group survived.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await harness.waker.idle();
    expect(sub.receiver.offsets()).toEqual([first[0].offset]);
  });

  test('a webhook that answers after its timeout fails the delivery, which is retried', async () => {
    const topic = await topicWith(1);
    const sub = await subscribe('slowhook', topic, { timeoutSeconds: 1, maxAttempts: 10 });
    let slow = true;
    sub.receiver.answer = async () => {
      if (slow) {
        slow = false;
        await new Promise((resolve) => setTimeout(resolve, 1_500));
      }
      return { status: 200 };
    };
    const results = await publish(topic, [{ value: 'x' }]);
    // The late 200 does not count (the receiver records it, but the bus gave up waiting): it comes again.
    await sub.receiver.until((r) => r.offsets().filter((o) => o === results[0].offset).length === 2);
    await harness.waker.idle();
    const described = await api.request('GET', `/subscriptions/${sub.group}`);
    expect(described.body.partitions[0]).toMatchObject({ lag: 0, attempts: 0 });
  });

  test('fails to subscribe a webhook on a private, link-local or metadata address', async () => {
    const topic = await topicWith(1);
    for (const url of [
      'http://10.0.0.5/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://[fd00::1]/x',
    ]) {
      const res = await api.request('PUT', `/subscriptions/${group('ssrf')}`, {
        body: { topic, target: { type: 'webhook', url } },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_REQUEST');
    }
  });

  test('fails with 400 on a bad subscription body, and with 404 for an unknown topic or group', async () => {
    const topic = await topicWith(1);
    const bad = [
      {},
      { topic, target: { type: 'ftp', url: 'x' } },
      { topic, target: { type: 'webhook', url: 'https://example.com' }, batchSize: 0 },
      { topic, target: { type: 'lambda', function: 'f' }, delivery: 'exactly-once' },
      { topic, target: { type: 'lambda', function: 'f' }, surprise: true },
    ];
    for (const body of bad) {
      const res = await api.request('PUT', `/subscriptions/${group('bad')}`, { body });
      expect(res.status).toBe(400);
    }
    const missing = await api.request('PUT', `/subscriptions/${group('nt')}`, {
      body: { topic: uniqueTopic(), target: { type: 'lambda', function: 'f' } },
    });
    expect(missing.body.error.code).toBe('TOPIC_NOT_FOUND');
    expect((await api.request('POST', `/subscriptions/${group('none')}/redrive`)).body.error.code).toBe(
      'SUBSCRIPTION_NOT_FOUND',
    );
  });

  test('keys and ACLs apply: creating needs admin on the group and read on the topic; reading needs read on the topic', async () => {
    const topic = await topicWith(1);
    const key = async (acl: unknown) =>
      (await api.request('POST', '/keys', { body: { acl } })).body.key as string;
    const g = group('acl');
    const body = { topic, target: { type: 'lambda', function: 'billing' } };
    const readerOnly = await key([{ topics: topic, permissions: ['read'] }]);
    const groupAdmin = await key([
      { topics: `${PREFIX}-*`, permissions: ['admin'] },
      { topics: topic, permissions: ['read'] },
    ]);
    const groupAdminNoTopic = await key([{ topics: `${PREFIX}-*`, permissions: ['admin'] }]);

    expect((await api.request('PUT', `/subscriptions/${g}`, { body, key: null })).status).toBe(401);
    expect((await api.request('PUT', `/subscriptions/${g}`, { body, key: readerOnly })).status).toBe(403);
    expect((await api.request('PUT', `/subscriptions/${g}`, { body, key: groupAdminNoTopic })).status).toBe(
      403,
    );
    expect((await api.request('PUT', `/subscriptions/${g}`, { body, key: groupAdmin })).status).toBe(201);

    expect((await api.request('GET', `/subscriptions/${g}`, { key: readerOnly })).status).toBe(200);
    expect((await api.request('GET', `/subscriptions/${g}`, { key: groupAdminNoTopic })).status).toBe(403);
    const listed = await api.request('GET', '/subscriptions', { key: readerOnly });
    expect(listed.body.subscriptions.map((s: { group: string }) => s.group)).toEqual([g]);
    expect(
      (
        await api.request('POST', `/subscriptions/${g}/offsets`, {
          body: { to: 'earliest' },
          key: readerOnly,
        })
      ).status,
    ).toBe(403);
    expect((await api.request('POST', `/subscriptions/${g}/redrive`, { key: readerOnly })).status).toBe(403);
    expect((await api.request('DELETE', `/subscriptions/${g}`, { key: readerOnly })).status).toBe(403);
    expect((await api.request('DELETE', `/subscriptions/${g}`, { key: groupAdmin })).status).toBe(204);
  });

  test('the same subscription again is 200 without the secret; a different one is 409; both change nothing', async () => {
    const topic = await topicWith(1);
    const sub = await subscribe('again', topic, { batchSize: 7 });
    const body = { topic, target: { type: 'webhook', url: sub.receiver.url }, batchSize: 7 };
    const same = await api.request('PUT', `/subscriptions/${sub.group}`, { body });
    expect(same.status).toBe(200);
    expect(same.body).not.toHaveProperty('secret');
    expect(same.body).toMatchObject({ group: sub.group, batchSize: 7, maxAttempts: 5, startFrom: 'latest' });
    const different = await api.request('PUT', `/subscriptions/${sub.group}`, {
      body: { ...body, batchSize: 8 },
    });
    expect(different.status).toBe(409);
    expect(different.body.error.code).toBe('CONFLICT');
    expect((await api.request('GET', `/subscriptions/${sub.group}`)).body.batchSize).toBe(7);
    // The secret it was created with still signs deliveries (the receiver verifies every signature).
    const results = await publish(topic, [{ value: 'signed' }]);
    await sub.receiver.until((r) => r.offsets().includes(results[0].offset));
  });
});

function countDistinct(receiver: WebhookReceiver): number {
  return new Set(
    receiver.batches.flatMap((b) => b.batch.events.map((e) => `${b.batch.partition}:${e.offset}`)),
  ).size;
}

/** Offsets with a redelivered run folded back: [0,1,2,1,2,3] → [0,1,2,3]. */
function dedupeRuns(offsets: number[]): number[] {
  const out: number[] = [];
  for (const offset of offsets) if (out.length === 0 || offset > out[out.length - 1]) out.push(offset);
  return out;
}
