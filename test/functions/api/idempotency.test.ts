import type { Server } from 'node:http';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createApiHandler } from '../../../functions/api/handler';
import { serveFunctionUrl, serverUrl } from '../../../local/function-url';
import { createBus } from '../../../shared/bus';
import { DEFAULT_LIMITS } from '../../../shared/publish/limits';
import { ADMIN_KEY, startTestApi, type TestApi } from '../../support/api';
import { documentClient, s3Client, uniqueTopic } from '../../support/aws';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

async function newTopic(partitions: number): Promise<string> {
  const topic = uniqueTopic('idem');
  await api.request('PUT', `/topics/${topic}`, { body: { partitions, retentionHours: 24 } });
  return topic;
}

async function endOffsets(topic: string): Promise<number[]> {
  const { body } = await api.request('GET', `/topics/${topic}`);
  return body.partitions.map((p: { endOffset: number }) => p.endOffset);
}

const events = (n: number) => ({ events: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: i })) });

describe('Idempotency-Key', () => {
  test('a repeat returns the first answer and appends nothing', async () => {
    const topic = await newTopic(3);
    const headers = { 'idempotency-key': 'order-42' };
    const first = await api.request('POST', `/topics/${topic}/events`, { body: events(5), headers });
    const after = await endOffsets(topic);
    const again = await api.request('POST', `/topics/${topic}/events`, { body: events(5), headers });

    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await endOffsets(topic)).toEqual(after);
    expect(after.reduce((a, b) => a + b, 0)).toBe(5);
  });

  test('keyless events of a retried request land on the same partition', async () => {
    const topic = await newTopic(8);
    const headers = { 'idempotency-key': 'keyless-1' };
    const body = { events: [{ value: 'a' }, { value: 'b' }] };
    const first = await api.request('POST', `/topics/${topic}/events`, { body, headers });
    const again = await api.request('POST', `/topics/${topic}/events`, { body, headers });
    expect(again.body).toEqual(first.body);
    expect((await endOffsets(topic)).reduce((a, b) => a + b, 0)).toBe(2);
  });

  test('two identical requests in flight at once append once', async () => {
    const topic = await newTopic(2);
    const headers = { 'idempotency-key': 'race-1' };
    const publishUntilAnswered = async () => {
      for (;;) {
        const res = await api.request('POST', `/topics/${topic}/events`, { body: events(10), headers });
        if (res.status !== 409) return res;
        // The other request holds the key: the bus says to retry shortly.
        expect(res.headers.get('retry-after')).toBeTruthy();
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const [a, b] = await Promise.all([publishUntilAnswered(), publishUntilAnswered()]);
    expect(a.status).toBe(200);
    expect(b.body).toEqual(a.body);
    expect((await endOffsets(topic)).reduce((x, y) => x + y, 0)).toBe(10);
  });

  test('fails with 422 IDEMPOTENCY_KEY_REUSED when the key is reused for a different body, and appends nothing', async () => {
    const topic = await newTopic(1);
    const headers = { 'idempotency-key': 'reuse' };
    await api.request('POST', `/topics/${topic}/events`, { body: { events: [{ value: 1 }] }, headers });
    const res = await api.request('POST', `/topics/${topic}/events`, {
      body: { events: [{ value: 2 }] },
      headers,
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await endOffsets(topic)).toEqual([1]);
  });

  test('fails with 422 when a reused key adds events for a partition the first request did not write', async () => {
    const topic = await newTopic(3);
    const headers = { 'idempotency-key': 'reuse-wider' };
    const first = await api.request('POST', `/topics/${topic}/events`, {
      body: { events: [{ value: 1, partition: 0 }] },
      headers,
    });
    expect(first.status).toBe(200);
    const res = await api.request('POST', `/topics/${topic}/events`, {
      body: {
        events: [
          { value: 1, partition: 0 },
          { value: 2, partition: 2 },
        ],
      },
      headers,
    });
    expect(res.status).toBe(422);
    expect(await endOffsets(topic)).toEqual([1, 0, 0]);
  });
});

describe('partial failure', () => {
  test('503 names the events that failed; a full retry with the same key appends only those', async () => {
    // GIVEN a bus whose writes to partition 1 of the topic fail (a throttled or unreachable partition)
    const topic = await newTopic(2);
    const failing = new DynamoDBClient({});
    let broken = true;
    failing.middlewareStack.add(
      (next) => async (args) => {
        const input = (args as { input: { Item?: { pk?: unknown } } }).input;
        if (broken && JSON.stringify(input.Item?.pk ?? '').includes(`${topic}#1`)) {
          throw Object.assign(new Error('throttled'), {
            name: 'ProvisionedThroughputExceededException',
            $retryable: {},
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'failPartition1' },
    );
    const bus = createBus({
      adminKey: ADMIN_KEY,
      env: { ...process.env, EVENTBUS_APPEND_ATTEMPTS: '1' },
      clients: { dynamo: documentClient(failing), s3: s3Client() },
    });
    const handler = createApiHandler(bus, DEFAULT_LIMITS, new Logger({ logLevel: 'SILENT' }));
    const server: Server = await serveFunctionUrl(handler as never, 0);
    const body = {
      events: [
        { value: 'p0', partition: 0 },
        { value: 'p1', partition: 1 },
        { value: 'p0b', partition: 0 },
      ],
    };
    const post = () =>
      fetch(`${serverUrl(server)}/topics/${topic}/events`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${ADMIN_KEY}`,
          'content-type': 'application/json',
          'idempotency-key': 'partial',
        },
        body: JSON.stringify(body),
      });

    try {
      // WHEN the request is published
      const first = await post();
      const firstBody = (await first.json()) as { results: unknown[] };

      // THEN the answer is 503 with Retry-After, results per event in order: partition 0 committed, partition 1 not
      expect(first.status).toBe(503);
      expect(first.headers.get('retry-after')).toBeTruthy();
      expect(firstBody.results).toEqual([
        { partition: 0, offset: 0 },
        { partition: 1, error: { code: expect.any(String), message: expect.any(String) } },
        { partition: 0, offset: 1 },
      ]);
      expect(await endOffsets(topic)).toEqual([2, 0]);

      // AND once the partition recovers, the same request again commits only partition 1's event
      broken = false;
      const retry = await post();
      expect(retry.status).toBe(200);
      expect(await retry.json()).toEqual({
        results: [
          { partition: 0, offset: 0 },
          { partition: 1, offset: 0 },
          { partition: 0, offset: 1 },
        ],
      });
      expect(await endOffsets(topic)).toEqual([2, 1]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
