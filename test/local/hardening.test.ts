import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LOCAL_NODE_ARGS } from '../../local/node-args';
import { call, type RunningBus, startBus, stopBus } from '../support/local-bus';

const ROOT = path.resolve(__dirname, '../..');

/** `npm start`'s command with its own emulators, run to its end: its exit code and output. */
function runToEnd(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string; ms: number }> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env))
    if (!/^(EVENTBUS_|AWS_)/.test(name)) clean[name] = value;
  const started = Date.now();
  const child = spawn(process.execPath, [...LOCAL_NODE_ARGS, 'local/start.ts'], {
    cwd: ROOT,
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return new Promise((resolve) =>
    child.on('exit', (code) => resolve({ code, output, ms: Date.now() - started })),
  );
}

function javaOf(dataDir: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', `${dataDir}.*dynamodb`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function modeOf(file: string): string {
  return (statSync(file).mode & 0o777).toString(8);
}

describe('local mode, hardened', () => {
  let dataDir: string;
  let bus: RunningBus;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'eventbus-hard-'));
    bus = await startBus(dataDir);
  }, 120_000);
  afterAll(async () => {
    if (bus?.child.exitCode === null) await stopBus(bus, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("its data directory is private (0700) and the files in it are its user's only (0600)", () => {
    expect(modeOf(dataDir)).toBe('700');
    expect(modeOf(path.join(dataDir, 'admin-key'))).toBe('600');
    const dbFiles = readdirSync(path.join(dataDir, 'dynamodb')).map((name) =>
      path.join(dataDir, 'dynamodb', name),
    );
    expect(dbFiles.length).toBeGreaterThan(0);
    for (const file of dbFiles) expect({ file, mode: modeOf(file) }).toEqual({ file, mode: '600' });
  });

  test('a second bus on the same data directory is refused at once, starting nothing', async () => {
    const before = javaOf(dataDir).length;
    const second = await runToEnd({ EVENTBUS_DATA_DIR: dataDir, EVENTBUS_PORT: '0' });
    expect(second.code).toBe(1);
    expect(second.output).toMatch(/Another bus \(pid \d+\) is running on/);
    expect(javaOf(dataDir).length).toBe(before);
    // and the first one still answers
    expect((await call(bus, 'GET', '/topics')).status).toBe(200);
  });

  test('a port in use is refused before anything starts', async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'eventbus-port-'));
    const port = Number(new URL(bus.url).port);
    const refused = await runToEnd({ EVENTBUS_DATA_DIR: other, EVENTBUS_PORT: String(port) });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`Port ${port} on 127.0.0.1 is already in use`);
    expect(javaOf(other)).toEqual([]);
    rmSync(other, { recursive: true, force: true });
  });

  test('a request without a valid key is refused from its headers, before its body is read', async () => {
    const port = Number(new URL(bus.url).port);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      // Announce 5 MB and send none of it: only an answer from the headers alone can arrive.
      const req = request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/topics/x/events',
        headers: { 'content-type': 'application/json', 'content-length': String(5 * 1024 * 1024) },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body).error.code).toBe('UNAUTHORIZED');
  });

  test('requests Node cannot parse get a JSON error; HEAD /health answers like GET', async () => {
    const port = Number(new URL(bus.url).port);
    const raw = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write('GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'),
      );
      let text = '';
      socket.on('data', (chunk) => (text += chunk));
      socket.on('close', () => resolve(text));
    });
    expect(raw).toMatch(/^HTTP\/1.1 400/);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).error.code).toBe('INVALID_REQUEST');
    const big = await fetch(`${bus.url}/health`, { headers: { 'x-big': 'x'.repeat(20_000) } }).catch(
      (e) => e,
    );
    expect(big.status).toBe(431);
    expect((await big.json()).error.code).toBe('INVALID_REQUEST');
    const head = await fetch(`${bus.url}/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  test('a generated admin key is printed, with where it is stored', () => {
    expect(bus.output).toMatch(/admin key eb_admin_\S+ \(generated, stored in \S+admin-key\)/);
  });
});

describe('local mode, stopping', () => {
  test('on SIGTERM, requests in flight are answered before the bus stops; every acknowledged event survives', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'eventbus-drain-'));
    let bus = await startBus(dataDir);
    try {
      expect((await call(bus, 'PUT', '/topics/drain', { partitions: 2, retentionHours: 24 })).status).toBe(
        201,
      );
      const body = JSON.stringify({
        events: Array.from({ length: 200 }, (_, n) => ({ key: `k${n}`, value: { n, pad: 'x'.repeat(200) } })),
      });
      const outcomes = Array.from({ length: 40 }, () =>
        fetch(`${bus.url}/topics/drain/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${bus.adminKey}`, 'content-type': 'application/json' },
          body,
        }).then(
          async (response) => ({ status: response.status, body: (await response.json()) as any }),
          (error) => ({ status: 0, error: String(error.cause?.code ?? error.cause?.message ?? error) }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
      const exited = stopBus(bus, 'SIGTERM');
      const answers = await Promise.all(outcomes);
      expect(await exited).toBe(0);
      // Every request was answered, or refused before it was accepted: none was cut off mid-way.
      for (const answer of answers) {
        if (answer.status === 0) expect((answer as { error: string }).error).toBe('ECONNREFUSED');
        else expect([200, 503]).toContain(answer.status);
      }
      const acknowledged = answers.filter((a) => a.status === 200).flatMap((a) => (a as any).body.results);
      expect(acknowledged.length).toBeGreaterThan(0);

      bus = await startBus(dataDir);
      // A stored admin key is not printed again.
      expect(bus.output).toContain('admin key from');
      expect(bus.output).not.toContain(bus.adminKey);
      for (const partition of [0, 1]) {
        const stored = new Set<number>();
        for (let offset = 0; ; ) {
          const path = `/topics/drain/partitions/${partition}/events?offset=${offset}&limit=1000`;
          const read = await call(bus, 'GET', path);
          for (const event of read.body.events) stored.add(event.offset);
          if (read.body.events.length === 0) break;
          offset = read.body.nextOffset;
        }
        const mine = acknowledged.filter((r: { partition: number }) => r.partition === partition);
        expect(mine.filter(({ offset }: { offset: number }) => !stored.has(offset))).toEqual([]);
      }
    } finally {
      if (bus?.child.exitCode === null) await stopBus(bus, 'SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);

  test('a DynamoDB Local that dies stops the bus with a message that says so', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'eventbus-dead-'));
    const bus = await startBus(dataDir);
    try {
      const [java] = javaOf(dataDir);
      expect(java).toBeGreaterThan(0);
      const exited = new Promise<number | null>((resolve) => bus.child.on('exit', (code) => resolve(code)));
      process.kill(java, 'SIGKILL');
      expect(await exited).toBe(1);
      expect(bus.output).toMatch(
        /DynamoDB Local exited \(SIGKILL\) while the bus was running; stopping the bus/,
      );
    } finally {
      if (bus.child.exitCode === null) await stopBus(bus, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
