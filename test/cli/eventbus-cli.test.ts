import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { partitionForKey } from '../../protocol';
import { freePort } from '../client/fetch-wrappers';
import { type RunningBus, startBus, stopBus } from '../support/local-bus';
import { runCli } from './run-cli';

describe('the eventbus CLI against a local bus', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'eventbus-cli-'));
  // Where npm start keeps its data when run in `home`: the CLI finds the key there by itself.
  const dataDir = path.join(home, '.eventbus');
  let bus: RunningBus;
  let env: NodeJS.ProcessEnv;
  const cli = (args: string[], stdin?: string) => runCli(args, { env, stdin });

  beforeAll(async () => {
    mkdirSync(dataDir);
    bus = await startBus(dataDir);
    env = { EVENTBUS_URL: bus.url, EVENTBUS_KEY: bus.adminKey };
  }, 120_000);
  afterAll(async () => {
    if (bus) await stopBus(bus, 'SIGTERM');
    rmSync(home, { recursive: true, force: true });
  });

  test('publishes 10,000 events from stdin in batches and consumes every one back, in order per key', async () => {
    // GIVEN a topic with 4 partitions
    const created = await cli(['topics', 'create', 'clicks', '--partitions', '4', '--json']);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toEqual({
      created: true,
      name: 'clicks',
      partitions: 4,
      retentionHours: 168,
    });

    // WHEN 10,000 events over 50 keys are piped in, one JSON per line
    const lines = Array.from({ length: 10_000 }, (_, i) =>
      JSON.stringify({ key: `user-${i % 50}`, value: { id: i, seq: Math.floor(i / 50) } }),
    );
    const published = await cli(['publish', 'clicks', '--json'], `${lines.join('\n')}\n`);

    // THEN the summary says all were published, in far fewer requests than events
    expect(published.stderr).toBe('');
    expect(published.code).toBe(0);
    const summary = JSON.parse(published.stdout);
    expect(summary).toMatchObject({ topic: 'clicks', published: 10_000, failed: 0, failures: [] });
    expect(summary.requests).toBeLessThan(200);

    // AND consuming from the beginning gives each event once, each key in its partition and in order
    const consumed = await cli(['consume', 'clicks', '--from-beginning', '--json']);
    expect(consumed.code).toBe(0);
    const events = consumed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events).toHaveLength(10_000);
    expect(new Set(events.map((e) => e.value.id)).size).toBe(10_000);
    const seqs = new Map<string, number[]>();
    for (const event of events) {
      expect(event.partition).toBe(partitionForKey(event.key, 4));
      seqs.set(event.key, [...(seqs.get(event.key) ?? []), event.value.seq]);
    }
    for (const seq of seqs.values()) expect(seq).toEqual(Array.from({ length: 200 }, (_, i) => i));

    // AND describe and a bounded consume of one partition agree with it
    const described = JSON.parse((await cli(['topics', 'describe', 'clicks', '--json'])).stdout);
    expect(described.partitions.reduce((n: number, p: { endOffset: number }) => n + p.endOffset, 0)).toBe(
      10_000,
    );
    const some = await cli(['consume', 'clicks', '--partition', '1', '--offset', '5', '--max-events', '3']);
    expect(
      some.stdout
        .trim()
        .split('\n')
        .map((line) => line.split('\t')[0]),
    ).toEqual(['1:5', '1:6', '1:7']);
  }, 180_000);

  test('publishes one event from its arguments, and a bad line from stdin fails alone with exit code 9', async () => {
    await cli(['topics', 'create', 'single']);
    const one = await cli([
      'publish',
      'single',
      '{"total": 42}',
      '--event-key',
      'order-1',
      '-H',
      'source=test',
      '--json',
    ]);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toEqual({ topic: 'single', partition: 0, offset: 0 });
    const mixed = await cli(['publish', 'single', '--json'], '{"value": 1}\nnot json\n{"value": 2}\n');
    expect(mixed.code).toBe(9);
    expect(JSON.parse(mixed.stdout)).toMatchObject({
      published: 2,
      failed: 1,
      failures: [{ line: 2, code: 'INVALID_LINE' }],
    });
    const read = await cli(['consume', 'single', '--from-beginning', '--json']);
    expect(
      read.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toMatchObject([
      { offset: 0, key: 'order-1', value: { total: 42 }, headers: { source: 'test' } },
      { offset: 1, value: 1 },
      { offset: 2, value: 2 },
    ]);
  });

  test('resets a subscription to the beginning, and the group gets every event again', async () => {
    // GIVEN a webhook receiver, a topic with 30 events and a group that has received them all
    const received: number[] = [];
    const hook: Server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        for (const event of JSON.parse(body).events) received.push(event.value.n);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
      await cli(['topics', 'create', 'replayed', '--partitions', '2']);
      const lines = Array.from({ length: 30 }, (_, n) => JSON.stringify({ value: { n } })).join('\n');
      expect((await cli(['publish', 'replayed'], lines)).code).toBe(0);
      const created = await cli([
        'subscriptions',
        'create',
        'replayer',
        '--topic',
        'replayed',
        '--webhook',
        url,
        '--start-from',
        'earliest',
        '--json',
      ]);
      expect(created.code).toBe(0);
      expect(JSON.parse(created.stdout)).toMatchObject({
        created: true,
        group: 'replayer',
        secret: expect.stringMatching(/^whsec_/),
      });
      const lagIsZero = async () => {
        for (;;) {
          const described = JSON.parse(
            (await cli(['subscriptions', 'describe', 'replayer', '--json'])).stdout,
          );
          if (described.lag === 0) return described;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      };
      await lagIsZero();
      expect([...received].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n));

      // WHEN it is reset to the earliest offsets
      const reset = await cli(['subscriptions', 'reset', 'replayer', '--to-earliest', '--json']);
      expect(reset.code).toBe(0);
      expect(JSON.parse(reset.stdout)).toEqual({
        group: 'replayer',
        partitions: [
          { partition: 0, committedOffset: 0 },
          { partition: 1, committedOffset: 0 },
        ],
      });

      // THEN every event is delivered a second time, and describe shows the lag per partition as a table
      while (received.length < 60) await new Promise((resolve) => setTimeout(resolve, 200));
      const described = await lagIsZero();
      expect(
        described.partitions
          .map((p: { endOffset: number }) => p.endOffset)
          .reduce((a: number, b: number) => a + b),
      ).toBe(30);
      const counts = new Map<number, number>();
      for (const n of received) counts.set(n, (counts.get(n) ?? 0) + 1);
      expect([...counts.values()].every((c) => c === 2)).toBe(true);
      const table = await cli(['subscriptions', 'describe', 'replayer']);
      expect(table.stdout).toMatch(/partition.*committed.*end.*lag/);
      expect(table.stdout).toMatch(/Total lag: 0 event/);

      const listed = JSON.parse((await cli(['subscriptions', 'list', '--json'])).stdout);
      expect(listed.subscriptions.map((s: { group: string }) => s.group)).toContain('replayer');
      expect(JSON.parse((await cli(['subscriptions', 'redrive', 'replayer', '--json'])).stdout)).toEqual({
        group: 'replayer',
        deadLetters: 0,
      });
      expect((await cli(['subscriptions', 'delete', 'replayer'])).code).toBe(0);
      const gone = await cli(['subscriptions', 'describe', 'replayer']);
      expect(gone.code).toBe(5);
      expect(gone.stderr).toMatch(/SUBSCRIPTION_NOT_FOUND/);
    } finally {
      hook.close();
    }
  }, 120_000);

  test('tries routing before creating it, creates a topic route with a filter, transform and key, shows and tries it by group', async () => {
    // GIVEN a topic of 60 orders, 3 of them big, and a target topic
    await cli(['topics', 'create', 'shop', '--partitions', '2']);
    await cli(['topics', 'create', 'shop-big']);
    const lines = Array.from({ length: 60 }, (_, n) =>
      JSON.stringify({ key: `o-${n}`, value: { n, total: n % 20 === 7 ? 500 : 5, customer: `c-${n % 4}` } }),
    );
    expect((await cli(['publish', 'shop'], lines.join('\n'))).code).toBe(0);
    const filter = '{"value": {"total": [{"numeric": [">", 100]}]}}';
    const transform = '{"order": key, "total": value.total}';

    // WHEN the routing is tried on the topic's retained events and on samples
    const tried = await cli([
      'subscriptions',
      'test',
      '--topic',
      'shop',
      '--filter',
      filter,
      '--transform',
      transform,
      '--target-key',
      'value.customer',
      '--json',
    ]);

    // THEN every event was tried, the big ones matched with their value and key, and nothing was written
    expect(tried.code).toBe(0);
    const answer = JSON.parse(tried.stdout);
    expect(answer.counts).toEqual({ read: 60, matched: 3, failed: 0 });
    const matched = answer.results.filter((r: { matched: boolean }) => r.matched);
    expect(matched.map((r: { value: { order: string } }) => r.value.order).sort()).toEqual([
      'o-27',
      'o-47',
      'o-7',
    ]);
    expect(matched.find((r: { value: { order: string } }) => r.value.order === 'o-7')).toMatchObject({
      key: 'c-3',
      value: { order: 'o-7', total: 500 },
    });
    const samples = await cli([
      'subscriptions',
      'test',
      '--filter',
      filter,
      '--transform',
      'value.total * 2',
      '--event',
      '{"total": 900}',
      '--event',
      '{"key": "o-1", "value": {"total": 1}}',
    ]);
    expect(samples.code).toBe(0);
    expect(samples.stdout).toMatch(/#0\s*│ yes\s*│ \(none\)\s*│ 1800/);
    expect(samples.stdout).toMatch(/#1\s*│ no/);
    expect(samples.stdout).toMatch(/2 event\(s\) tried: 1 matched, 0 failed\. Nothing was delivered\./);
    const invalid = await cli([
      'subscriptions',
      'test',
      '--filter',
      '{"value": {"total": [{"numeric": [">>", 1]}]}}',
      '--event',
      '1',
    ]);
    expect(invalid.code).toBe(7);
    expect(invalid.stderr).toMatch(/INVALID_REQUEST: filter\/value\/total\/0\/numeric\/0/);
    expect(
      JSON.parse((await cli(['topics', 'describe', 'shop-big', '--json'])).stdout).partitions[0].endOffset,
    ).toBe(0);

    // WHEN the route is created from the CLI
    const created = await cli([
      'subscriptions',
      'create',
      'shop-router',
      '--topic',
      'shop',
      '--to-topic',
      'shop-big',
      '--target-key',
      'value.customer',
      '--start-from',
      'earliest',
      '--filter',
      filter,
      '--transform',
      transform,
      '--json',
    ]);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      created: true,
      target: { type: 'topic', topic: 'shop-big', key: 'value.customer' },
      filter: JSON.parse(filter),
      transform: { jsonata: transform },
    });

    // THEN get shows its routing, the group's own test gives the same answer, and the big orders are routed
    const shown = await cli(['subscriptions', 'get', 'shop-router']);
    expect(shown.stdout).toContain('→ topic shop-big keyed by value.customer');
    expect(shown.stdout).toContain('Filter: {"value":{"total":[{"numeric":[">",100]}]}}');
    expect(shown.stdout).toContain(`Transform: ${transform}`);
    const byGroup = JSON.parse((await cli(['subscriptions', 'test', 'shop-router', '--json'])).stdout);
    expect(byGroup.results).toEqual(answer.results);
    let routed: { key: string; value: { order: string } }[] = [];
    while (routed.length < 3) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const consumed = await cli(['consume', 'shop-big', '--from-beginning', '--json']);
      routed = consumed.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line));
    }
    expect(routed.map((e) => [e.key, e.value.order]).sort()).toEqual([
      ['c-3', 'o-27'],
      ['c-3', 'o-47'],
      ['c-3', 'o-7'],
    ]);
    const usage = await cli([
      'subscriptions',
      'create',
      'x',
      '--topic',
      'shop',
      '--webhook',
      'http://127.0.0.1:9/h',
      '--target-key',
      'k',
    ]);
    expect(usage.code).toBe(2);
  }, 120_000);

  test('creates, lists and revokes keys; a revoked key exits with code 4 and says what to do', async () => {
    await cli(['topics', 'create', 'keyed']);
    const created = await cli([
      'keys',
      'create',
      '--acl',
      'keyed=publish,read',
      '--description',
      'cli test',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const { id, key } = JSON.parse(created.stdout);
    expect(key).toMatch(/^eb_/);
    const listed = JSON.parse((await cli(['keys', 'list', '--json'])).stdout);
    expect(listed.keys.find((k: { id: string }) => k.id === id)).toMatchObject({
      description: 'cli test',
      acl: [{ topics: 'keyed', permissions: ['publish', 'read'] }],
    });
    const asKey = (args: string[]) => runCli(args, { env: { EVENTBUS_URL: bus.url, EVENTBUS_KEY: key } });
    expect((await asKey(['publish', 'keyed', '1'])).code).toBe(0);
    const forbidden = await asKey(['topics', 'create', 'other']);
    expect(forbidden.code).toBe(4);
    expect(forbidden.stderr).toMatch(/FORBIDDEN/);
    expect((await cli(['keys', 'revoke', id])).code).toBe(0);
    const refused = await asKey(['publish', 'keyed', '2']);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/UNAUTHORIZED[\s\S]*--key or EVENTBUS_KEY/);
  });

  test('registers, checks and lists schemas, writes their TypeScript types, and a publish meets the schema', async () => {
    await cli(['topics', 'create', 'typed']);
    const dir = mkdtempSync(path.join(tmpdir(), 'schemas-'));
    const v1 = path.join(dir, 'v1.json');
    const breaking = path.join(dir, 'breaking.json');
    const schema = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] };
    writeFileSync(v1, JSON.stringify(schema));
    writeFileSync(breaking, JSON.stringify({ ...schema, required: ['id', 'total'] }));
    expect((await cli(['schemas', 'register', 'typed', v1])).stdout).toMatch(/Registered version 1/);
    const check = await cli(['schemas', 'check', 'typed', breaking]);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/Incompatible \(BACKWARD\)[\s\S]*\/required/);
    expect((await cli(['schemas', 'list', 'typed', '--json'])).stdout).toContain('"version": 1');
    const types = await cli(['schemas', 'codegen', 'typed']);
    expect(types.code).toBe(0);
    expect(types.stdout).toMatch(/export interface Typed \{[\s\S]*id: string;/);
    expect((await cli(['publish', 'typed', '{"total": 1}'])).stderr).toMatch(/SCHEMA_VIOLATION/);
  });

  test('finds a local bus and its admin key by itself, from EVENTBUS_PORT and .eventbus in the current directory', async () => {
    const port = new URL(bus.url).port;
    const local = await runCli(['topics', 'list', '--json'], { cwd: home, env: { EVENTBUS_PORT: port } });
    expect(local.code).toBe(0);
    expect(JSON.parse(local.stdout).topics.map((t: { name: string }) => t.name)).toContain('clicks');
    const viaDataDir = await runCli(['topics', 'list'], {
      env: { EVENTBUS_PORT: port, EVENTBUS_DATA_DIR: dataDir },
    });
    expect(viaDataDir.code).toBe(0);
    expect(viaDataDir.stdout).toMatch(/clicks/);
  });

  test('exit codes: 2 for usage, 3 for no bus, 5 for a missing topic, 6 for a conflict; errors say what to do', async () => {
    const usage = await cli(['topics', 'create', 'x', '--partitions', 'many']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--partitions/);
    expect((await cli(['consume', 'clicks', '--offset', '3'])).code).toBe(2);

    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await runCli(['topics', 'list'], { env: { EVENTBUS_URL: nowhere } });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('npm start');

    const missing = await cli(['consume', 'no-such-topic', '--from-beginning', '--json']);
    expect(missing.code).toBe(5);
    expect(JSON.parse(missing.stderr).error).toMatchObject({ code: 'TOPIC_NOT_FOUND', status: 404 });

    const conflict = await cli(['topics', 'create', 'clicks', '--partitions', '2']);
    expect(conflict.code).toBe(6);
    expect(conflict.stderr).toMatch(/CONFLICT/);
  });
});
