import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { call, type RunningBus, startBus, stopBus } from '../support/local-bus';

// `npm start` is read by a person: one readable line per log entry, and no CloudWatch metric lines.

/** Lines that are JSON objects, as Powertools' JSON logs and CloudWatch's embedded metric format are. */
function jsonLines(output: string): Record<string, unknown>[] {
  return output.split('\n').flatMap((line) => {
    try {
      const value = JSON.parse(line);
      return value !== null && typeof value === 'object' ? [value] : [];
    } catch {
      return [];
    }
  });
}

async function untilOutput(bus: RunningBus, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(bus.output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

describe('npm start on a terminal', () => {
  let dataDir: string;
  let bus: RunningBus | undefined;

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'eventbus-terminal-'));
  });
  afterEach(async () => {
    if (bus && bus.child.exitCode === null) await stopBus(bus, 'SIGTERM');
    bus = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });

  test('GIVEN the access log on and metrics not switched off WHEN events are published THEN each request is one readable line and no metric JSON is printed', async () => {
    // GIVEN a bus whose environment says nothing about metrics (local mode decides), logging every request
    bus = await startBus(dataDir, {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_DISABLED: undefined,
      LOG_FORMAT: undefined,
      EVENTBUS_ACCESS_LOG: 'true',
    });
    // WHEN a topic is created and an event published
    expect(
      (await call(bus, 'PUT', '/topics/terminal', { partitions: 1, retentionHours: 24 })).status,
    ).toBeLessThan(300);
    expect((await call(bus, 'POST', '/topics/terminal/events', { events: [{ value: 1 }] })).status).toBe(200);
    await untilOutput(bus, /INFO\s+request .*\/topics\/terminal\/events/);
    // THEN the request is logged as time, level, message and its fields on one line
    expect(bus.output).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}request .*method=POST .*path=\/topics\/terminal\/events .*status=200/m,
    );
    // AND nothing printed is JSON: neither log entries nor embedded-format metrics (`_aws`)
    expect(jsonLines(bus.output)).toEqual([]);
  });

  test('GIVEN LOG_FORMAT=json WHEN a request is logged THEN it is a Powertools JSON line', async () => {
    bus = await startBus(dataDir, {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      LOG_FORMAT: 'json',
      EVENTBUS_ACCESS_LOG: 'true',
    });
    expect((await call(bus, 'GET', '/topics')).status).toBe(200);
    await untilOutput(bus, /"message":"request"/);
    expect(jsonLines(bus.output)).toContainEqual(
      expect.objectContaining({ level: 'INFO', message: 'request', service: 'eventbus', status: 200 }),
    );
  });
});
