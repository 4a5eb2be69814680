import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ConflictError,
  type ConsumedEvent,
  EventBusClient,
  EventBusError,
  ForbiddenError,
  NetworkError,
  SubscriptionNotFoundError,
  TopicNotFoundError,
  UnauthorizedError,
} from '../../client';
import { type RunningBus, startBus, stopBus } from '../support/local-bus';
import { freePort } from './fetch-wrappers';

describe('EventBusClient against a local bus', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'eventbus-client-'));
  let bus: RunningBus;
  let client: EventBusClient;
  let hook: Server;
  let hookUrl: string;

  beforeAll(async () => {
    bus = await startBus(dataDir);
    client = new EventBusClient({ url: bus.url, key: bus.adminKey });
    hook = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(204).end());
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
  }, 120_000);
  afterAll(async () => {
    hook?.close();
    if (bus) await stopBus(bus, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('creates, lists and describes topics; a different configuration is a ConflictError', async () => {
    expect(await client.createTopic('orders', { partitions: 2, retentionHours: 24 })).toEqual({
      created: true,
      topic: { name: 'orders', partitions: 2, retentionHours: 24 },
    });
    expect((await client.createTopic('orders', { partitions: 2, retentionHours: 24 })).created).toBe(false);
    const conflict = await client
      .createTopic('orders', { partitions: 3, retentionHours: 24 })
      .catch((e) => e);
    expect(conflict).toBeInstanceOf(ConflictError);
    expect(conflict).toMatchObject({ code: 'CONFLICT', status: 409, retryable: false });
    expect((await client.listTopics()).map((t) => t.name)).toContain('orders');
    expect(await client.describeTopic('orders')).toEqual({
      name: 'orders',
      retentionHours: 24,
      partitions: [
        { partition: 0, startOffset: 0, endOffset: 0 },
        { partition: 1, startOffset: 0, endOffset: 0 },
      ],
    });
    const missing = await client.describeTopic('nope').catch((e) => e);
    expect(missing).toBeInstanceOf(TopicNotFoundError);
    expect(missing).toBeInstanceOf(EventBusError);
    expect(missing.message).toMatch(/PUT \/topics\/nope/);
  });

  test('publishes and reads a partition back page after page, from an offset or a time, and follows it', async () => {
    await client.createTopic('reads', { partitions: 1, retentionHours: 24 });
    const first = await client.publish(
      'reads',
      Array.from({ length: 250 }, (_, i) => ({ key: `k${i}`, value: { n: i }, headers: { h: `${i}` } })),
    );
    expect(first.map((p) => p.offset)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    const middle = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await client.publish('reads', [{ value: 'later' }]);

    // From offset 10, 100 a page: every event once, in order, then the iteration ends at the end.
    const fromTen: ConsumedEvent[] = [];
    for await (const event of client.read('reads', 0, { from: 10, limit: 100 })) fromTen.push(event);
    expect(fromTen.map((e) => e.offset)).toEqual(Array.from({ length: 241 }, (_, i) => i + 10));
    expect(fromTen[0]).toMatchObject({ key: 'k10', value: { n: 10 }, headers: { h: '10' } });

    // From a time: the first event at or after it.
    const fromTime: ConsumedEvent[] = [];
    for await (const event of client.read('reads', 0, { from: { timestamp: middle } })) fromTime.push(event);
    expect(fromTime.map((e) => e.value)).toEqual(['later']);

    // Following from the end: an event published after the read began arrives.
    const end = (await client.describeTopic('reads')).partitions[0].endOffset;
    const controller = new AbortController();
    const followed = (async () => {
      for await (const event of client.read('reads', 0, {
        from: end,
        follow: true,
        pollIntervalMs: 50,
        signal: controller.signal,
      })) {
        return event;
      }
    })();
    await client.publish('reads', [{ value: 'followed' }]);
    expect(await followed).toMatchObject({ offset: end, value: 'followed' });
    controller.abort();
  });

  test('puts, describes, lists, resets and deletes a subscription', async () => {
    await client.createTopic('billing-in', { partitions: 2, retentionHours: 24 });
    await client.publish('billing-in', [
      { partition: 0, value: 1 },
      { partition: 0, value: 2 },
      { partition: 1, value: 3 },
    ]);
    const put = await client.putSubscription('billing', {
      topic: 'billing-in',
      target: { type: 'webhook', url: hookUrl },
      startFrom: 'latest',
    });
    expect(put.created).toBe(true);
    expect(put.subscription.secret).toMatch(/^whsec_/);
    expect((await client.listSubscriptions()).map((s) => s.group)).toContain('billing');
    const described = await client.getSubscription('billing');
    expect(described.partitions.map((p) => [p.partition, p.committedOffset, p.lag])).toEqual([
      [0, 2, 0],
      [1, 1, 0],
    ]);
    expect(await client.resetOffsets('billing', { offsets: { 0: 1 } })).toEqual([
      { partition: 0, committedOffset: 1 },
    ]);
    expect(await client.redrive('billing')).toEqual({ deadLetters: 0 });
    await client.deleteSubscription('billing');
    await expect(client.getSubscription('billing')).rejects.toBeInstanceOf(SubscriptionNotFoundError);
  });

  test('creates, lists and revokes keys; a key is held to its ACL, and a revoked key is refused', async () => {
    await client.createTopic('acl-topic', { partitions: 1, retentionHours: 24 });
    const created = await client.createKey({
      acl: [{ topics: 'acl-*', permissions: ['publish'] }],
      description: 'test',
    });
    expect(created.key).toMatch(/^eb_/);
    expect((await client.listKeys()).find((k) => k.id === created.id)).toMatchObject({ description: 'test' });
    const limited = new EventBusClient({ url: bus.url, key: created.key });
    expect(await limited.publish('acl-topic', [{ value: 1 }])).toEqual([{ partition: 0, offset: 0 }]);
    await expect(limited.readPage('acl-topic', 0, { offset: 0 })).rejects.toBeInstanceOf(ForbiddenError);
    await client.revokeKey(created.id);
    await expect(limited.publish('acl-topic', [{ value: 2 }])).rejects.toBeInstanceOf(UnauthorizedError);
    expect((await client.listKeys()).some((k) => k.id === created.id)).toBe(false);
  });

  test('a bus that is not there is a retryable NetworkError that says where it looked', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const nowhere = new EventBusClient({ url, key: 'eb_x', retry: { retries: 2, baseDelayMs: 1 } });
    const error = await nowhere.listTopics().catch((e) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', retryable: true, status: 0 });
    expect(error.message).toContain(`Is the bus running at ${url}?`);
    expect((await client.health()).ok).toBe(true);
  });
});
