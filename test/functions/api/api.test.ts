import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { startTestApi, type TestApi } from '../../support/api';
import { uniqueTopic } from '../../support/aws';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

async function endOffsets(topic: string): Promise<number[]> {
  const { body } = await api.request('GET', `/topics/${topic}`);
  return body.partitions.map((p: { endOffset: number }) => p.endOffset);
}

describe('HTTP API', () => {
  test('GET /health answers 200 without a key', async () => {
    const res = await api.request('GET', '/health', { key: null });
    expect(res.status).toBe(200);
  });

  test('a topic is created, described, listed; the same config again is 200, a different one 409', async () => {
    const topic = uniqueTopic();
    const created = await api.request('PUT', `/topics/${topic}`, {
      body: { partitions: 3, retentionHours: 48 },
    });
    expect(created.status).toBe(201);
    expect(
      (await api.request('PUT', `/topics/${topic}`, { body: { partitions: 3, retentionHours: 48 } })).status,
    ).toBe(200);
    const conflict = await api.request('PUT', `/topics/${topic}`, {
      body: { partitions: 4, retentionHours: 48 },
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('CONFLICT');

    const described = await api.request('GET', `/topics/${topic}`);
    expect(described.body).toEqual({
      name: topic,
      retentionHours: 48,
      partitions: [0, 1, 2].map((partition) => ({ partition, startOffset: 0, endOffset: 0 })),
    });
    const listed = await api.request('GET', '/topics');
    expect(listed.body.topics).toContainEqual({ name: topic, partitions: 3, retentionHours: 48 });
  });

  test('published events are answered with their offsets in request order and read back as published', async () => {
    const topic = uniqueTopic();
    await api.request('PUT', `/topics/${topic}`, { body: { partitions: 4, retentionHours: 24 } });
    const published = await api.request('POST', `/topics/${topic}/events`, {
      body: {
        events: [
          { key: 'order-1', value: { total: 10 }, headers: { source: 'shop' } },
          { key: 'order-1', value: [1, 'two', null] },
          { value: 'no key', partition: 2 },
        ],
      },
    });
    expect(published.status).toBe(200);
    const [a, b, c] = published.body.results;
    expect(a.partition).toBe(b.partition);
    expect(b.offset).toBe(a.offset + 1);
    expect(c).toEqual({ partition: 2, offset: expect.any(Number) });

    const read = await api.request(
      'GET',
      `/topics/${topic}/partitions/${a.partition}/events?offset=${a.offset}&limit=2`,
    );
    expect(read.status).toBe(200);
    expect(read.body.nextOffset).toBe(a.offset + 2);
    expect(read.body.events).toEqual([
      {
        offset: a.offset,
        timestamp: expect.any(String),
        key: 'order-1',
        value: { total: 10 },
        headers: { source: 'shop' },
      },
      {
        offset: b.offset,
        timestamp: expect.any(String),
        key: 'order-1',
        value: [1, 'two', null],
        headers: {},
      },
    ]);
    const since = new Date(Date.parse(read.body.events[0].timestamp) - 1).toISOString();
    const byTime = await api.request(
      'GET',
      `/topics/${topic}/partitions/${a.partition}/events?timestamp=${since}&limit=2`,
    );
    expect(byTime.body.events.map((e: { offset: number }) => e.offset)).toEqual([a.offset, b.offset]);
  });

  test('the same key always lands on the same partition: Kafka murmur2', async () => {
    const topic = uniqueTopic();
    await api.request('PUT', `/topics/${topic}`, { body: { partitions: 8, retentionHours: 24 } });
    const res = await api.request('POST', `/topics/${topic}/events`, {
      body: { events: [{ key: 'foobar', value: 1 }] },
    });
    // Kafka: toPositive(murmur2("foobar")) % 8 = (-790332482 & 0x7fffffff) % 8
    expect(res.body.results[0].partition).toBe((-790332482 & 0x7fffffff) % 8);
  });
});

describe('bad input gets a clear 4xx with a stable code and changes nothing', () => {
  let topic: string;
  beforeAll(async () => {
    topic = uniqueTopic('bad');
    await api.request('PUT', `/topics/${topic}`, { body: { partitions: 2, retentionHours: 24 } });
    await api.request('POST', `/topics/${topic}/events`, { body: { events: [{ value: 1, partition: 0 }] } });
  });

  const cases: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
    [
      'bad JSON',
      () => api.request('POST', `/topics/${topic}/events`, { body: '{"events": [' }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'no events array',
      () => api.request('POST', `/topics/${topic}/events`, { body: { event: [] } }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'an event without value',
      () => api.request('POST', `/topics/${topic}/events`, { body: { events: [{ key: 'k' }] } }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a non-string key',
      () => api.request('POST', `/topics/${topic}/events`, { body: { events: [{ key: 5, value: 1 }] } }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a partition out of range',
      () =>
        api.request('POST', `/topics/${topic}/events`, { body: { events: [{ value: 1, partition: 2 }] } }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a non-string header',
      () =>
        api.request('POST', `/topics/${topic}/events`, {
          body: { events: [{ value: 1, headers: { a: 1 } }] },
        }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'one bad event among good ones',
      () =>
        api.request('POST', `/topics/${topic}/events`, {
          body: { events: [{ value: 1 }, { value: 2, partition: -1 }] },
        }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'no key',
      () => api.request('POST', `/topics/${topic}/events`, { body: { events: [{ value: 1 }] }, key: null }),
      401,
      'UNAUTHORIZED',
    ],
    [
      'a wrong key',
      () =>
        api.request('POST', `/topics/${topic}/events`, {
          body: { events: [{ value: 1 }] },
          key: 'not-the-key',
        }),
      401,
      'UNAUTHORIZED',
    ],
    [
      'an unknown topic',
      () => api.request('POST', `/topics/${topic}-missing/events`, { body: { events: [{ value: 1 }] } }),
      404,
      'TOPIC_NOT_FOUND',
    ],
    ['an unknown route', () => api.request('GET', '/nothing/here'), 404, 'NOT_FOUND'],
    [
      'an invalid topic name',
      () => api.request('PUT', '/topics/bad%20name', { body: { partitions: 1, retentionHours: 24 } }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a changed topic config',
      () => api.request('PUT', `/topics/${topic}`, { body: { partitions: 3, retentionHours: 24 } }),
      409,
      'CONFLICT',
    ],
    [
      'retention under 24 h',
      () => api.request('PUT', `/topics/${topic}-short`, { body: { partitions: 1, retentionHours: 23 } }),
      400,
      'INVALID_REQUEST',
    ],
    ...[721, 3e12, 1e300].map((retentionHours): (typeof cases)[number] => [
      `retention of ${retentionHours} h, over the deployment's longest (720 h by default)`,
      () => api.request('PUT', `/topics/${topic}-long`, { body: { partitions: 1, retentionHours } }),
      400,
      'INVALID_REQUEST',
    ]),
    [
      'too many partitions',
      () => api.request('PUT', `/topics/${topic}-wide`, { body: { partitions: 257, retentionHours: 24 } }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a value over 1 MiB',
      () =>
        api.request('POST', `/topics/${topic}/events`, {
          body: { events: [{ value: 'x'.repeat(1024 * 1024) }] },
        }),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'a body over 6 MB',
      () =>
        api.request('POST', `/topics/${topic}/events`, {
          body: { events: Array.from({ length: 7 }, () => ({ value: 'x'.repeat(1000 * 1000) })) },
        }),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'over 1000 events',
      () =>
        api.request('POST', `/topics/${topic}/events`, {
          body: { events: Array.from({ length: 1001 }, () => ({ value: 1 })) },
        }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'an unsupported content type',
      () =>
        api.request('POST', `/topics/${topic}/events`, {
          body: 'a=b',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'an offset below the start',
      () => api.request('GET', `/topics/${topic}/partitions/0/events?offset=-1`),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a partition that does not exist',
      () => api.request('GET', `/topics/${topic}/partitions/7/events?offset=0`),
      404,
      'NOT_FOUND',
    ],
    [
      'both offset and timestamp',
      () =>
        api.request('GET', `/topics/${topic}/partitions/0/events?offset=0&timestamp=2026-01-01T00:00:00Z`),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a bad timestamp',
      () => api.request('GET', `/topics/${topic}/partitions/0/events?timestamp=yesterday`),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a limit over 1000',
      () => api.request('GET', `/topics/${topic}/partitions/0/events?offset=0&limit=1001`),
      400,
      'INVALID_REQUEST',
    ],
  ];

  test.each(cases)('%s', async (_name, call, status, code) => {
    const before = await endOffsets(topic);
    const res = await call();
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
    expect(res.body.error.message.length).toBeGreaterThan(10);
    expect(await endOffsets(topic)).toEqual(before);
  });

  test('410 OFFSET_OUT_OF_RANGE names the start offset', async () => {
    const gone = uniqueTopic('gone');
    await api.request('PUT', `/topics/${gone}`, { body: { partitions: 1, retentionHours: 24 } });
    await api.request('POST', `/topics/${gone}/events`, { body: { events: [{ value: 1 }] } });
    await api.request('POST', `/topics/${gone}/events`, { body: { events: [{ value: 2 }] } });
    await api.bus.clients.dynamo.send(
      new DeleteCommand({ TableName: api.bus.config.logTable, Key: { pk: `${gone}#0`, sk: 0 } }),
    );
    const res = await api.request('GET', `/topics/${gone}/partitions/0/events?offset=0`);
    expect(res.status).toBe(410);
    expect(res.body.error).toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', startOffset: 1 });
  });
});
