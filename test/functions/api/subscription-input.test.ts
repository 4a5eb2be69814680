import { startTestApi, type TestApi } from '../../support/api';
import { uniqueTopic } from '../../support/aws';

/**
 * Input that once slipped through (issue 21, point 4): every string of a
 * subscription is bounded, ports and partition numbers are checked, and
 * loopback names are refused by rule — each with 400 INVALID_REQUEST,
 * changing nothing.
 */
let api: TestApi;
let topic: string;
beforeAll(async () => {
  // AWS's policy: public HTTPS only. Deliverers are not this test's concern: wake-ups go nowhere.
  api = await startTestApi(undefined, {
    env: { ...process.env, EVENTBUS_WEBHOOK_ALLOW: '' },
    waker: { wake: async () => {} },
  });
  topic = uniqueTopic('input');
  await api.request('PUT', `/topics/${topic}`, { body: { partitions: 2, retentionHours: 24 } });
});
afterAll(() => api.close());

async function refusedAndAbsent(target: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const group = uniqueTopic('input-group');
  const res = await api.request('PUT', `/subscriptions/${group}`, { body: { topic, target, ...extra } });
  const after = await api.request('GET', `/subscriptions/${group}`);
  return {
    status: res.status,
    code: res.body.error?.code,
    message: res.body.error?.message,
    after: after.status,
  };
}

const refused = { status: 400, code: 'INVALID_REQUEST', after: 404 };

describe('subscription strings are bounded', () => {
  test('fails a webhook URL over 2,048 characters, and takes one of exactly 2,048', async () => {
    const base = 'https://example.com/';
    expect(
      await refusedAndAbsent({ type: 'webhook', url: `${base}${'a'.repeat(2_049 - base.length)}` }),
    ).toMatchObject({
      ...refused,
      message: '"target.url" must be a URL of at most 2048 characters.',
    });
    const group = uniqueTopic('input-long');
    const url = `${base}${'a'.repeat(2_048 - base.length)}`;
    const res = await api.request('PUT', `/subscriptions/${group}`, {
      body: { topic, target: { type: 'webhook', url } },
    });
    expect([res.status, res.body.target?.url]).toEqual([201, url]);
  });

  test('fails a 1 MB webhook URL with 400, not a 500 from the table', async () => {
    expect(
      await refusedAndAbsent({ type: 'webhook', url: `https://example.com/${'a'.repeat(1_000_000)}` }),
    ).toMatchObject(refused);
  });

  test.each([
    ['a function name of 65 characters', 'f'.repeat(65)],
    ['an alias of 129 characters', `billing:${'a'.repeat(129)}`],
    [
      'an ARN whose name has 65 characters',
      `arn:aws:lambda:eu-west-1:123456789012:function:${'f'.repeat(65)}`,
    ],
  ])('fails %s (Lambda allows 64, and 128 for a qualifier)', async (_name, fn) => {
    expect(await refusedAndAbsent({ type: 'lambda', function: fn })).toMatchObject(refused);
  });

  test('takes a function name of 64 characters and a qualified ARN', async () => {
    for (const fn of [
      'f'.repeat(64),
      `arn:aws:lambda:eu-west-1:123456789012:function:${'f'.repeat(64)}:live`,
    ]) {
      const res = await api.request('PUT', `/subscriptions/${uniqueTopic('input-fn')}`, {
        body: { topic, target: { type: 'lambda', function: fn } },
      });
      expect([res.status, res.body.target?.function]).toEqual([201, fn]);
    }
  });

  test('fails a signing secret over 192 bytes', async () => {
    const secret = `whsec_${Buffer.alloc(300, 1).toString('base64')}`;
    expect(
      await refusedAndAbsent({ type: 'webhook', url: 'https://example.com/hook' }, { secret }),
    ).toMatchObject(refused);
  });
});

describe('webhook addresses', () => {
  test.each([
    'https://example.com:0/hook',
    'https://example.com:65536/hook',
    'https://example.com:99999/hook',
  ])('fails %s: not a port', async (url) => {
    expect(await refusedAndAbsent({ type: 'webhook', url })).toMatchObject(refused);
  });

  test.each([
    'https://localhost./hook',
    'https://LOCALHOST/hook',
    'https://localhost.localdomain/hook',
    'https://localhost.localdomain./hook',
    'https://ip6-localhost/hook',
    'https://ip6-loopback/hook',
    'https://api.localhost/hook',
    'https://api.localhost./hook',
    'https://[::ffff:127.0.0.1]/hook',
  ])('fails %s by rule when loopback is not allowed, before any lookup', async (url) => {
    const answer = await refusedAndAbsent({ type: 'webhook', url });
    expect(answer).toMatchObject(refused);
    expect(answer.message).toMatch(/loopback/);
  });
});

describe('offsets reset', () => {
  test('fails a partition written other than canonically ("01", "00", "+1"), moving nothing', async () => {
    const group = uniqueTopic('input-reset');
    await api.request('POST', `/topics/${topic}/events`, { body: { events: [{ value: 1, partition: 1 }] } });
    await api.request('PUT', `/subscriptions/${group}`, {
      body: { topic, target: { type: 'lambda', function: 'f' }, startFrom: 'latest' },
    });
    const before = (await api.request('GET', `/subscriptions/${group}`)).body.partitions;
    for (const key of ['01', '00', '+1', '1.0']) {
      const res = await api.request('POST', `/subscriptions/${group}/offsets`, {
        body: { to: { offsets: { [key]: 0 } } },
      });
      expect([key, res.status, res.body.error?.code]).toEqual([key, 400, 'INVALID_REQUEST']);
    }
    expect((await api.request('GET', `/subscriptions/${group}`)).body.partitions).toEqual(before);
    const moved = await api.request('POST', `/subscriptions/${group}/offsets`, {
      body: { to: { offsets: { '1': 0 } } },
    });
    expect(moved.body.partitions).toEqual([{ partition: 1, committedOffset: 0 }]);
  });
});
