import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { call, startBus, stopBus } from '../support/local-bus';

const _ROOT = path.resolve(__dirname, '../..');

function processesUsing(dataDir: string): string {
  try {
    return execFileSync('pgrep', ['-f', dataDir], { encoding: 'utf8' }).trim();
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
}

describe('the local bus across a restart', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'eventbus-restart-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('keeps every event, its admin key and its offsets; SIGTERM and SIGINT stop everything it started', async () => {
    // GIVEN a bus with events inline and in S3
    const first = await startBus(dataDir);
    expect((await call(first, 'PUT', '/topics/orders', { partitions: 1, retentionHours: 24 })).status).toBe(
      201,
    );
    const published = await call(first, 'POST', '/topics/orders/events', {
      events: [
        { key: 'a', value: 1 },
        { key: 'b', value: 'x'.repeat(20_000) },
        { key: 'c', value: { n: 3 } },
      ],
    });
    expect(published.body.results.map((r: { offset: number }) => r.offset)).toEqual([0, 1, 2]);

    // WHEN it is stopped with SIGTERM and started again on the same data directory
    expect(await stopBus(first, 'SIGTERM')).toBe(0);
    expect(processesUsing(dataDir)).toBe('');
    const second = await startBus(dataDir);

    // THEN the generated admin key is the same, every event is readable, and appends continue at offset 3
    expect(second.adminKey).toBe(first.adminKey);
    const read = await call(second, 'GET', '/topics/orders/partitions/0/events?offset=0');
    expect(read.body.events.map((e: { key: string; value: unknown }) => [e.key, e.value])).toEqual([
      ['a', 1],
      ['b', 'x'.repeat(20_000)],
      ['c', { n: 3 }],
    ]);
    const more = await call(second, 'POST', '/topics/orders/events', { events: [{ value: 4 }] });
    expect(more.body.results).toEqual([{ partition: 0, offset: 3 }]);

    expect(await stopBus(second, 'SIGINT')).toBe(0);
    expect(processesUsing(dataDir)).toBe('');
  }, 240_000);

  test('a bus killed with SIGKILL takes its emulators with it', async () => {
    // GIVEN a running bus with DynamoDB Local and s3rver on its data directory
    const killedDir = mkdtempSync(path.join(tmpdir(), 'eventbus-kill-'));
    try {
      const bus = await startBus(killedDir);
      expect(processesUsing(killedDir)).not.toBe('');

      // WHEN it dies without running any handler
      await stopBus(bus, 'SIGKILL');

      // THEN the watchdog stops the emulators within seconds
      const deadline = Date.now() + 20_000;
      while (processesUsing(killedDir) !== '' && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      expect(processesUsing(killedDir)).toBe('');
    } finally {
      rmSync(killedDir, { recursive: true, force: true });
    }
  }, 120_000);
});
