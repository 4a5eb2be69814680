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
