import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LOCAL_NODE_ARGS } from '../../local/node-args';

const ROOT = path.resolve(__dirname, '../..');

export interface RunningBus {
  readonly child: ChildProcess;
  readonly url: string;
  readonly adminKey: string;
  /** Everything the bus printed so far. */
  readonly output: string;
}

/** Starts the bus as `npm start` does, with its own emulators on `dataDir`. */
export async function startBus(dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<RunningBus> {
  const env: NodeJS.ProcessEnv = {};
  // Not the test run's emulators and tables: this bus starts and provisions its own.
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(EVENTBUS_|AWS_)/.test(name)) env[name] = value;
  }
  Object.assign(
    env,
    { EVENTBUS_DATA_DIR: dataDir, EVENTBUS_PORT: '0', POWERTOOLS_LOG_LEVEL: 'WARN' },
    extraEnv,
  );
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
      // Printed when generated; otherwise it is in the data directory.
      const printed = /admin key (eb_\S+)/.exec(output)?.[1];
      const adminKey =
        printed ??
        (/admin key from EVENTBUS_ADMIN_KEY/.test(output) ? env.EVENTBUS_ADMIN_KEY : undefined) ??
        (/admin key from /.test(output)
          ? readFileSync(path.join(dataDir, 'admin-key'), 'utf8').trim()
          : undefined);
      if (url && adminKey) {
        clearTimeout(timer);
        resolve({
          child,
          url,
          adminKey,
          get output() {
            return output;
          },
        });
      }
    });
  });
}

export async function stopBus(bus: RunningBus, signal: NodeJS.Signals): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => bus.child.on('exit', (code) => resolve(code)));
  bus.child.kill(signal);
  return exited;
}

export async function call(bus: RunningBus, method: string, route: string, body?: unknown) {
  const response = await fetch(bus.url + route, {
    method,
    headers: { authorization: `Bearer ${bus.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}
