import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { call, type RunningBus, startBus, stopBus } from '../support/local-bus';

/**
 * A topic target across hard kills of the whole local bus (SIGKILL: no
 * handler runs, DynamoDB Local and s3rver go with it): every matching source
 * event is in the target exactly once afterwards, in source order, as ADR 20
 * promises. The chaos test injects the same faults in one process; this is
 * the real process dying mid-route.
 */

const EVENTS = 3_000;
const KILLS = 2;

interface ReadEvent {
  key: string | null;
  value: { n: number };
  headers: Record<string, string>;
}

async function endOffsets(bus: RunningBus, topic: string): Promise<number> {
  const res = await call(bus, 'GET', `/topics/${topic}`);
  return (res.body.partitions as { endOffset: number }[]).reduce((sum, p) => sum + p.endOffset, 0);
}

async function lag(bus: RunningBus, group: string): Promise<number> {
  const res = await call(bus, 'GET', `/subscriptions/${group}`);
  return (res.body.partitions as { lag: number }[]).reduce((sum, p) => sum + p.lag, 0);
}

async function readAll(bus: RunningBus, topic: string, partition: number): Promise<ReadEvent[]> {
  const events: ReadEvent[] = [];
  for (let offset = 0; ; ) {
    const res = await call(
      bus,
      'GET',
      `/topics/${topic}/partitions/${partition}/events?offset=${offset}&limit=1000`,
    );
    events.push(...res.body.events);
    if (res.body.events.length === 0 || res.body.nextOffset === offset) return events;
    offset = res.body.nextOffset;
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('a topic target across SIGKILLs of the local bus', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'eventbus-route-kill-'));
  let bus: RunningBus | undefined;
  afterAll(async () => {
    if (bus?.child.exitCode === null) await stopBus(bus, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('every matching source event lands in the target exactly once, in source order, however often the bus is killed mid-route', async () => {
    // GIVEN a backlog of keyed events on 2 partitions, of which half (keys "even-…") match a route into a 3-partition topic
    bus = await startBus(dataDir);
    expect((await call(bus, 'PUT', '/topics/source', { partitions: 2, retentionHours: 24 })).status).toBe(
      201,
    );
    expect((await call(bus, 'PUT', '/topics/target', { partitions: 3, retentionHours: 24 })).status).toBe(
      201,
    );
    for (let from = 0; from < EVENTS; from += 500) {
      const events = Array.from({ length: 500 }, (_, i) => {
        const n = from + i;
        return { key: `${n % 2 === 0 ? 'even' : 'odd'}-${n % 37}`, value: { n } };
      });
      expect((await call(bus, 'POST', '/topics/source/events', { events })).status).toBe(200);
    }
    const route = await call(bus, 'PUT', '/subscriptions/route', {
      topic: 'source',
      target: { type: 'topic', topic: 'target' },
      startFrom: 'earliest',
      batchSize: 50,
      filter: { key: [{ prefix: 'even-' }] },
      transform: { jsonata: '{"n": value.n, "routed": true}' },
    });
    expect(route.status).toBe(201);
    const matching = EVENTS / 2;

    // WHEN the bus is killed while the route is part way through, and started again, twice
    for (let kill = 0; kill < KILLS; kill++) {
      const running = bus;
      const before = await endOffsets(running, 'target');
      await waitFor(async () => (await endOffsets(running, 'target')) > before, 'the route to move', 120_000);
      await stopBus(running, 'SIGKILL');
      bus = await startBus(dataDir);
    }

    // THEN the route finishes: lag 0
    const last = bus;
    await waitFor(async () => (await lag(last, 'route')) === 0, 'the route to finish', 240_000);
    const landed = (await Promise.all([0, 1, 2].map((p) => readAll(last, 'target', p)))).flat();
    const evens = landed.map((e) => e.value.n);
    // Exactly once: each matching source event once, none twice, none missing
    expect([...evens].sort((a, b) => a - b)).toEqual(Array.from({ length: matching }, (_, i) => i * 2));
    // In source order within each target partition, per source partition (events of one key stay together)
    for (const p of [0, 1, 2]) {
      const events = await readAll(last, 'target', p);
      const bySource = new Map<string, number[]>();
      for (const event of events) {
        const [, sourcePartition, offset] = event.headers['eventbus-origin'].split('/');
        bySource.set(sourcePartition, [...(bySource.get(sourcePartition) ?? []), Number(offset)]);
      }
      for (const offsets of bySource.values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
  }, 600_000);
});
