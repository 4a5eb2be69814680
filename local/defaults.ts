import path from 'node:path';

/**
 * Where local mode keeps its data unless `EVENTBUS_DATA_DIR` says otherwise: relative to the directory
 * `npm start` (and the CLI, looking for the admin key) runs in.
 */
export const DEFAULT_DATA_DIR = '.eventbus';

/** The port of local mode's API unless `EVENTBUS_PORT` says otherwise. */
export const DEFAULT_PORT = 4000;

/**
 * Local mode's data directory, absolute.
 *
 * @example
 * localDataDir({ EVENTBUS_DATA_DIR: '/tmp/bus' }); // '/tmp/bus'
 */
export function localDataDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  return path.resolve(cwd, env.EVENTBUS_DATA_DIR || DEFAULT_DATA_DIR);
}

/**
 * Local mode's API port (0 picks a free one).
 *
 * @example
 * localPort({}); // 4000
 */
export function localPort(env: NodeJS.ProcessEnv = process.env): number {
  return env.EVENTBUS_PORT ? Number(env.EVENTBUS_PORT) : DEFAULT_PORT;
}

/** Where local mode stores the admin key it generates, and the CLI finds it. */
export function adminKeyFile(dataDir: string): string {
  return path.join(dataDir, 'admin-key');
}

/**
 * How often local mode's delivery sweep runs, in seconds: `EVENTBUS_LOCAL_SWEEP_SECONDS`, else
 * `fallback` (every second). 60 runs it as AWS does, so lease wakes alone take a dead holder's
 * partition over (docs/adr/0019); 0 turns it off.
 *
 * @example
 * localSweepSeconds({ EVENTBUS_LOCAL_SWEEP_SECONDS: '60' }, 1); // 60
 */
export function localSweepSeconds(env: NodeJS.ProcessEnv, fallback: number): number {
  const raw = env.EVENTBUS_LOCAL_SWEEP_SECONDS;
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    throw new Error(`EVENTBUS_LOCAL_SWEEP_SECONDS must be a whole number of seconds, got "${raw}".`);
  }
  return Number(raw);
}
