import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type RunningBus, startBus, stopBus } from '../support/local-bus';

// `npm run test:e2e` is the suite run against a deployed bus; here it runs against `npm start`, so the
// suite itself is proven to pass against a real bus, and to say so plainly when it has none.
const ROOT = path.resolve(__dirname, '../..');

function runE2e(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'node_modules/jest/bin/jest.js'), '--config', 'jest.e2e.config.js'],
      {
        cwd: ROOT,
        env: { ...process.env, EVENTBUS_E2E_URL: '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('the end-to-end suite', () => {
  let bus: RunningBus;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'eventbus-e2e-'));
    bus = await startBus(dataDir, {
      EVENTBUS_LOCAL_FUNCTIONS: 'probe=test/e2e/probe.ts#handler',
      EVENTBUS_RETRY_BASE_MS: '100',
    });
  }, 120_000);
  afterAll(async () => {
    if (bus) await stopBus(bus, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('GIVEN a bus URL WHEN npm run test:e2e runs THEN every step passes: topic, probe, delivery, lag, dead letter', async () => {
    const { code, output } = await runE2e({
      EVENTBUS_E2E_URL: bus.url,
      EVENTBUS_E2E_KEY: bus.adminKey,
      EVENTBUS_E2E_PROBE: 'probe',
    });
    expect(output).toMatch(/^4 passed, 0 failed$/m);
    expect(code).toBe(0);
  }, 240_000);

  test('GIVEN no bus URL WHEN it runs THEN it reports itself skipped, not passed', async () => {
    const { code, output } = await runE2e({});
    expect(output).toContain('e2e: skipped');
    expect(output).toMatch(/^0 passed, 0 failed, 4 skipped$/m);
    expect(code).toBe(0);
  }, 120_000);
});
