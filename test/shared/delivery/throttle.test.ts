import type { LambdaClient } from '@aws-sdk/client-lambda';
import { type BusCore, createBusCore } from '../../../shared/bus';
import { newWebhookSecret } from '../../../shared/delivery/subscription';
import { LambdaTarget } from '../../../shared/delivery/targets/lambda-target';
import { MAX_RETRY_AFTER_MS, retryAfterMs } from '../../../shared/delivery/targets/target';
import { WebhookTarget } from '../../../shared/delivery/targets/webhook-target';
import { record, uniqueTopic } from '../../support/aws';
import { createGroup, DELIVERY_TEST_ENV, startWebhookReceiver, testDeliverer } from '../../support/delivery';

const core: BusCore = createBusCore({
  env: { ...process.env, ...DELIVERY_TEST_ENV },
  waker: { wake: async () => {} },
});

/** A clock that only the deliverer's waits move: a wait of n ms takes no real time and moves it n ms. */
function virtualClock() {
  let time = Date.now();
  return {
    now: () => time,
    sleep: async (ms: number) => {
      time += ms;
    },
  };
}

/** `count` events in one partition, and a group reading them in one batch. */
async function groupWithEvents(count: number, maxAttempts: number) {
  const topic = uniqueTopic('throttle');
  await core.topics.create({ name: topic, partitions: 1, retentionHours: 24 });
  await core.log.append(
    topic,
    0,
    24,
    Array.from({ length: count }, (_, n) => record({ n })),
  );
  const group = await createGroup(core, topic, { batchSize: count, maxAttempts });
  return { group, ref: { cursor: group, partition: 0 } };
}

describe('a throttling target', () => {
  test('a webhook answering 429 with Retry-After: 2 gets the whole batch again, no earlier than 2 s later; the group shows when', async () => {
    // GIVEN 8 events and a group delivering them in one batch to a webhook that throttles the first request
    const { ref } = await groupWithEvents(8, 3);
    const clock = virtualClock();
    const secret = newWebhookSecret();
    const receiver = await startWebhookReceiver(() => secret);
    const requests: { at: number; offsets: number[]; throttledUntil?: number }[] = [];
    receiver.answer = async (batch) => {
      requests.push({
        at: clock.now(),
        offsets: batch.events.map((e) => e.offset),
        throttledUntil: (await core.cursors.read(ref))?.throttledUntil,
      });
      return requests.length === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 };
    };
    const target = new WebhookTarget(receiver.url, secret, 5_000, core.config.webhookPolicy);

    // WHEN a deliverer delivers the group
    const run = await testDeliverer(core, target, { now: clock.now, sleep: clock.sleep }).deliver(
      ref,
      30_000,
    );
    await receiver.close();

    // THEN the second request came 2 s or more after the first, with the same eight events, not half of them
    expect(run.result).toBe('caught-up');
    expect(requests.map((r) => r.offsets)).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7],
      [0, 1, 2, 3, 4, 5, 6, 7],
    ]);
    expect(requests[1].at - requests[0].at).toBeGreaterThanOrEqual(2_000);
    // AND while it waited, the group showed until when; once delivered, nothing is left of it
    expect(requests[1].throttledUntil).toBe(requests[0].at + 2_000);
    const after = await core.cursors.read(ref);
    expect(after).toMatchObject({ committed: 8, attempts: 0 });
    expect(after?.throttledUntil).toBeUndefined();
  });

  test('a target that throttles for ever still spends the attempts budget: its first event is dead-lettered, the rest flow', async () => {
    const { group } = await groupWithEvents(4, 2);
    const clock = virtualClock();
    const sizes: number[] = [];
    const target = {
      deliver: async (batch: { firstOffset: number; lastOffset: number }) => {
        sizes.push(batch.lastOffset - batch.firstOffset + 1);
        return batch.firstOffset === 0
          ? { status: 'throttled' as const, error: 'webhook answered 503: busy' }
          : { status: 'delivered' as const };
      },
    };
    await testDeliverer(core, target, { now: clock.now, sleep: clock.sleep }).deliver(
      { cursor: group, partition: 0 },
      30_000,
    );
    // Two whole batches throttled (never halved), then event 0 is dead-lettered and 1..3 go through.
    expect(sizes).toEqual([4, 4, 3]);
    const dead = await core.log.read(`${group}.dlq`, 0, 0, 10);
    expect(dead.records.map((r) => r.headers['eventbus-dlq-offset'])).toEqual(['0']);
    expect(dead.records[0].headers['eventbus-dlq-error']).toBe('webhook answered 503: busy');
  });

  test("Lambda's throttling is back-pressure, with the Retry-After Lambda gives", async () => {
    const throttled = Object.assign(new Error('Rate Exceeded.'), {
      name: 'TooManyRequestsException',
      retryAfterSeconds: '3',
    });
    const lambda = { send: async () => Promise.reject(throttled) } as unknown as LambdaClient;
    const outcome = await new LambdaTarget(lambda, 'subscriber', 1_000).deliver({
      group: 'g',
      topic: 't',
      partition: 0,
      firstOffset: 0,
      lastOffset: 0,
      body: '{}',
    });
    expect(outcome).toEqual({
      status: 'throttled',
      error: 'invoking subscriber: TooManyRequestsException: Rate Exceeded.',
      retryAfterMs: 3_000,
    });
  });

  test.each([
    ['2', 2_000],
    ['0', 0],
    [' 120 ', 120_000],
    ['86400', MAX_RETRY_AFTER_MS],
    ['Thu, 01 Jan 1970 00:00:10 GMT', 5_000],
    ['Thu, 01 Jan 1970 00:00:01 GMT', 0],
    ['soon', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('Retry-After %p means %p ms', (value, expected) => {
    expect(retryAfterMs(value, 5_000)).toBe(expected);
  });
});
