import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ConsumedEvent, EventBusClient, type EventPosition, Producer } from '../../client';
import { partitionForKey } from '../../protocol';
import { type RunningBus, startBus, stopBus } from '../support/local-bus';
import { countingFetch, faultyFetch, freePort } from './fetch-wrappers';

/** Every event of a topic, partition by partition, in offset order. */
async function readAll(client: EventBusClient, topic: string): Promise<Map<number, ConsumedEvent[]>> {
  const { partitions } = await client.describeTopic(topic);
  const all = new Map<number, ConsumedEvent[]>();
  for (const { partition } of partitions) {
    const events: ConsumedEvent[] = [];
    for await (const event of client.read(topic, partition, { from: 'earliest', limit: 1000 }))
      events.push(event);
    all.set(partition, events);
  }
  return all;
}

function idAt(all: Map<number, ConsumedEvent[]>, partition: number, offset: number): string | undefined {
  return (all.get(partition)?.[offset]?.value as { id?: string } | undefined)?.id;
}

/** How often each `value.id` occurs in the topic. */
async function idCounts(client: EventBusClient, topic: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const events of (await readAll(client, topic)).values()) {
    for (const event of events) {
      const id = (event.value as { id: string }).id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

describe('Producer against a local bus', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'eventbus-producer-'));
  let bus: RunningBus;
  let admin: EventBusClient;

  beforeAll(async () => {
    bus = await startBus(dataDir);
    admin = new EventBusClient({ url: bus.url, key: bus.adminKey });
  }, 120_000);
  afterAll(async () => {
    if (bus) await stopBus(bus, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('batches the events sent while a request is lingering into requests of at most maxBatchEvents', async () => {
    // GIVEN a one-partition topic and a producer that lingers and takes 100 events per request
    await admin.createTopic('batching', { partitions: 1, retentionHours: 24 });
    const counting = countingFetch();
    const client = new EventBusClient({ url: bus.url, key: bus.adminKey, fetch: counting.fetch });
    const producer = new Producer(client, { lingerMs: 1_000, maxBatchEvents: 100 });

    // WHEN 250 events are sent at once, and 5 more one at a time, each after the previous was queued
    const sent = Array.from({ length: 250 }, (_, i) => producer.send('batching', { value: { id: `a${i}` } }));
    const positions = await Promise.all(sent);
    const later: Promise<EventPosition>[] = [];
    for (let i = 0; i < 5; i++) {
      later.push(producer.send('batching', { value: { id: `b${i}` } }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await producer.flush();

    // THEN 3 full-size requests carried the 250, one request the 5, and every event is in the log once
    expect(counting.publishes.map((p) => p.events)).toEqual([100, 100, 50, 5]);
    expect(positions.map((p) => p.offset)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect((await Promise.all(later)).map((p) => p.offset)).toEqual([250, 251, 252, 253, 254]);
    const counts = await idCounts(admin, 'batching');
    expect(counts.size).toBe(255);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(producer.stats).toEqual({ requests: 4, acknowledged: 255, failed: 0 });
  });

  test('keeps each request under maxBatchBytes', async () => {
    // GIVEN events of about 1 KiB and a limit of 10 KB per request
    await admin.createTopic('bytes', { partitions: 1, retentionHours: 24 });
    const counting = countingFetch();
    const client = new EventBusClient({ url: bus.url, key: bus.adminKey, fetch: counting.fetch });
    const producer = new Producer(client, { lingerMs: 1_000, maxBatchBytes: 10_000 });

    // WHEN 100 are sent
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        producer.send('bytes', { value: { id: `${i}`, pad: 'x'.repeat(1000) } }),
      ),
    );

    // THEN no request was larger, each held the 9 events that fit (the last the 1 left), and all 100 are committed
    expect(Math.max(...counting.publishes.map((p) => p.bodyBytes))).toBeLessThanOrEqual(10_000);
    expect(counting.publishes.map((p) => p.events)).toEqual([...Array(11).fill(9), 1]);
    expect((await idCounts(admin, 'bytes')).size).toBe(100);
  });

  test('keeps the order of events per key and per explicit partition, through many small concurrent requests', async () => {
    // GIVEN a topic with 4 partitions and a producer sending small batches, many in flight
    await admin.createTopic('ordered', { partitions: 4, retentionHours: 24 });
    const producer = new Producer(admin, { lingerMs: 0, maxBatchEvents: 7, maxInFlightRequests: 8 });

    // WHEN 600 events are sent interleaved over 12 keys, plus 60 to partition 3 explicitly, plus 60 keyless
    const sends: Promise<EventPosition>[] = [];
    const keys = Array.from({ length: 12 }, (_, k) => `key-${k}`);
    for (let i = 0; i < 600; i++) {
      const key = keys[i % keys.length];
      sends.push(producer.send('ordered', { key, value: { id: `${key}/${Math.floor(i / keys.length)}` } }));
      if (i % 10 === 0) {
        sends.push(producer.send('ordered', { partition: 3, value: { id: `p3/${i / 10}` } }));
        sends.push(producer.send('ordered', { value: { id: `keyless/${i / 10}` } }));
      }
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const positions = await Promise.all(sends);

    // THEN each key's events are in its Kafka partition, in the order sent, and so are partition 3's
    const all = await readAll(admin, 'ordered');
    const sequences = new Map<string, number[]>();
    for (const [partition, events] of all) {
      for (const event of events) {
        const [stream, n] = (event.value as { id: string }).id.split('/');
        if (stream.startsWith('key-')) expect(partition).toBe(partitionForKey(stream, 4));
        if (stream === 'p3') expect(partition).toBe(3);
        const seen = sequences.get(stream) ?? [];
        seen.push(Number(n));
        sequences.set(stream, seen);
      }
    }
    for (const key of keys) expect(sequences.get(key)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(sequences.get('p3')).toEqual(Array.from({ length: 60 }, (_, i) => i));
    // Keyless events are spread over partitions (sticky), each exactly once.
    expect([...(sequences.get('keyless') ?? [])].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 60 }, (_, i) => i),
    );
    expect(new Set(positions.map((p) => `${p.partition}:${p.offset}`)).size).toBe(720);
  });

  test('retries 503s that reached no bus, with the same Idempotency-Key, and every event is committed once', async () => {
    // GIVEN a fetch that answers every 3rd publish request with 503 itself
    await admin.createTopic('refused', { partitions: 3, retentionHours: 24 });
    const faulty = faultyFetch('refuse', 3);
    const client = new EventBusClient({ url: bus.url, key: bus.adminKey, fetch: faulty.fetch });
    const producer = new Producer(client, { lingerMs: 0, maxBatchEvents: 20, retry: { baseDelayMs: 10 } });

    // WHEN 400 events are sent
    await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        producer.send('refused', { key: `k${i % 9}`, value: { id: `${i}` } }),
      ),
    );

    // THEN faults were injected, retries repeated the key of the attempt they retried, and each event is there once
    expect(faulty.injected()).toBeGreaterThan(5);
    const counts = await idCounts(admin, 'refused');
    expect(counts.size).toBe(400);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(faulty.keys.length).toBe(producer.stats.requests + faulty.injected());
    expect(new Set(faulty.keys).size).toBe(producer.stats.requests);
  });

  test('retries requests whose answer was lost after the bus committed them, without appending twice', async () => {
    // GIVEN a fetch that forwards every 4th publish request and then drops the answer (as a reset connection)
    await admin.createTopic('lost-answers', { partitions: 3, retentionHours: 24 });
    const faulty = faultyFetch('drop-answer', 4);
    const client = new EventBusClient({ url: bus.url, key: bus.adminKey, fetch: faulty.fetch });
    const producer = new Producer(client, { lingerMs: 0, maxBatchEvents: 20, retry: { baseDelayMs: 10 } });

    // WHEN 400 events are sent
    const positions = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        producer.send('lost-answers', { key: `k${i % 9}`, value: { id: `${i}` } }),
      ),
    );

    // THEN the bus got repeats of committed requests, yet each event is in the log exactly once,
    // at the offset its send() resolved with
    expect(faulty.injected()).toBeGreaterThan(5);
    const repeatedKeys = faulty.keys.length - new Set(faulty.keys).size;
    expect(repeatedKeys).toBe(faulty.injected());
    const all = await readAll(admin, 'lost-answers');
    const counts = await idCounts(admin, 'lost-answers');
    expect(counts.size).toBe(400);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(positions.map(({ partition, offset }) => idAt(all, partition, offset))).toEqual(
      positions.map((_, i) => `${i}`),
    );
  });

  test('fails the events of a request the bus refuses for good, and goes on with the next', async () => {
    // GIVEN a producer on a topic that does not exist, and one on a topic that does
    const producer = new Producer(admin, { lingerMs: 0 });

    // WHEN events are sent to both
    const missing = producer.send('no-such-topic', { value: 1 });
    const badPartition = producer.send('batching', { partition: 7, value: 1 });
    const good = producer.send('batching', { value: { id: 'after' } });

    // THEN the first fail with the API's codes and say what to do; the good one is committed
    await expect(missing).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND', status: 404, retryable: false });
    await expect(missing).rejects.toThrow(/PUT \/topics\/no-such-topic/);
    await expect(badPartition).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(good).resolves.toMatchObject({ partition: 0 });
    await producer.close();
    await expect(producer.send('batching', { value: 1 })).rejects.toMatchObject({ code: 'PRODUCER_CLOSED' });
  });
});

function processesUsing(dataDir: string): string {
  try {
    return execFileSync('pgrep', ['-f', dataDir], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

describe('Producer across a restart of the bus', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'eventbus-producer-restart-'));
  let bus: RunningBus | undefined;
  afterAll(async () => {
    if (bus) await stopBus(bus, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('keeps sending while the bus is killed and started again; every event is committed exactly once', async () => {
    // GIVEN a bus on a fixed port (it comes back on the same URL) and a producer sending all along
    const port = await freePort();
    const env = { EVENTBUS_PORT: String(port) };
    bus = await startBus(dataDir, env);
    const client = new EventBusClient({ url: bus.url, key: bus.adminKey, requestTimeoutMs: 10_000 });
    await client.createTopic('restart', { partitions: 3, retentionHours: 24 });
    const producer = new Producer(client, {
      lingerMs: 2,
      maxBatchEvents: 25,
      deliveryTimeoutMs: 240_000,
      retry: { maxDelayMs: 1_000 },
    });
    const sends: Promise<EventPosition>[] = [];
    let sending = true;
    const sender = (async () => {
      for (let i = 0; sending || i < 600; i++) {
        sends.push(producer.send('restart', { key: `k${i % 7}`, value: { id: `${i}` } }));
        if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const acknowledged = async (n: number) => {
      while (producer.stats.acknowledged < n) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await acknowledged(200);

    // WHEN the bus is killed outright (answers in flight are lost) and started again on its data
    await stopBus(bus, 'SIGKILL');
    expect(sends.length).toBeGreaterThan(producer.stats.acknowledged);
    const deadline = Date.now() + 30_000;
    while (processesUsing(dataDir) !== '' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    const sentBeforeRestart = sends.length;
    bus = await startBus(dataDir, env);
    await acknowledged(sentBeforeRestart + 100);
    sending = false;
    await sender;
    await producer.close();

    // THEN every send resolved, and each event is in the log exactly once, where its send() said
    const positions = await Promise.all(sends);
    expect(positions.length).toBeGreaterThan(sentBeforeRestart);
    const counts = await idCounts(client, 'restart');
    expect(counts.size).toBe(sends.length);
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
    const all = await readAll(client, 'restart');
    expect(positions.map(({ partition, offset }) => idAt(all, partition, offset))).toEqual(
      positions.map((_, i) => `${i}`),
    );
  }, 300_000);
});
