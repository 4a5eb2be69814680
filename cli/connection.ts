import { readFileSync } from 'node:fs';
import { adminKeyFile, localDataDir, localPort } from '../local/defaults';

/** Where the CLI talks to, and how it found out (shown when a request fails). */
export interface Connection {
  readonly url: string;
  readonly key?: string;
  /** Where the key came from: `--key`, `EVENTBUS_KEY`, a file, or none. */
  readonly keySource: string;
}

/**
 * The bus's URL and key: `--url`/`--key`, else `EVENTBUS_URL`/`EVENTBUS_KEY`,
 * else local mode's, found as `npm start` sets them (local/start.ts):
 * `http://127.0.0.1:${EVENTBUS_PORT ?? 4000}`, and the admin key from
 * `EVENTBUS_ADMIN_KEY` or `admin-key` in the data directory
 * (`EVENTBUS_DATA_DIR`, default `.eventbus` in the current directory: the defaults of local/defaults.ts).
 *
 * @example
 * resolveConnection({}, { EVENTBUS_DATA_DIR: '/tmp/bus' }, '/repo'); // key from /tmp/bus/admin-key
 */
export function resolveConnection(
  flags: { url?: string; key?: string },
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Connection {
  const url = flags.url ?? env.EVENTBUS_URL ?? `http://127.0.0.1:${localPort(env)}`;
  if (flags.key) return { url, key: flags.key, keySource: '--key' };
  if (env.EVENTBUS_KEY) return { url, key: env.EVENTBUS_KEY, keySource: 'EVENTBUS_KEY' };
  if (env.EVENTBUS_ADMIN_KEY) return { url, key: env.EVENTBUS_ADMIN_KEY, keySource: 'EVENTBUS_ADMIN_KEY' };
  const file = adminKeyFile(localDataDir(env, cwd));
  try {
    const key = readFileSync(file, 'utf8').trim();
    if (key) return { url, key, keySource: file };
  } catch {
    // No local bus's key here: requests go without one, and the bus says 401 if it needs one.
  }
  return { url, keySource: `none (no --key, EVENTBUS_KEY or ${file})` };
}
