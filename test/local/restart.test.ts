import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { LOCAL_NODE_ARGS } from '../../local/node-args';

const ROOT = path.resolve(__dirname, '../..');

interface RunningBus {
  readonly child: ChildProcess;
  readonly url: string;
  readonly adminKey: string;
}

/** Starts the bus as `npm start` does, with its own emulators on `dataDir`. */
async function startBus(dataDir: string): Promise<RunningBus> {
  const env: NodeJS.ProcessEnv = {};
  // Not the test run's emulators and tables: this bus starts and provisions its own.
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(EVENTBUS_|AWS_)/.test(name)) env[name] = value;
  }
  Object.assign(env, { EVENTBUS_DATA_DIR: dataDir, EVENTBUS_PORT: '0', POWERTOOLS_LOG_LEVEL: 'WARN' });
  const child = spawn(process.execPath, [...LOCAL_NODE_ARGS, 'local/start.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bus did not start:\n${output}`)), 90_000);
    child.on('exit', (code) => reject(new Error(`bus exited with ${code}:\n${output}`)));
    child.stdout?.on('data', (chunk) => {
      output += chunk;
      const url = /listening on (\S+)/.exec(output)?.[1];
      const adminKey = /admin key (\S+)/.exec(output)?.[1];
      if (url && adminKey) {
        clearTimeout(timer);
        resolve({ child, url, adminKey });
      }
    });
  });
}

async function stopBus(bus: RunningBus, signal: NodeJS.Signals): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => bus.child.on('exit', (code) => resolve(code)));
  bus.child.kill(signal);
  return exited;
}

function processesUsing(dataDir: string): string {
  try {
    return execFileSync('pgrep', ['-f', dataDir], { encoding: 'utf8' }).trim();
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
}

async function call(bus: RunningBus, method: string, route: string, body?: unknown) {
  const response = await fetch(bus.url + route, {
    method,
    headers: { authorization: `Bearer ${bus.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
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
