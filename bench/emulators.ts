import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEmulatorClients, startLocalBackends } from '../local/emulators';
import { provision, tableNames } from '../local/provision';

/** Where a benchmark's emulators answer (`AWS_ENDPOINT_URL_*`) and its tables' names by `envVar`. */
export interface BenchEmulators {
  readonly env: Record<string, string>;
  readonly names: Record<string, string>;
}

/**
 * Runs `work` against a fresh DynamoDB Local and s3rver, with the bus's
 * tables (named with `prefix`) and bucket provisioned, then stops them and
 * removes their data: what the in-process benchmarks share.
 */
export async function withEmulators<T>(
  prefix: string,
  work: (emulators: BenchEmulators) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `eventbus-${prefix}-`));
  const backends = await startLocalBackends({}, dataDir);
  try {
    const env = { ...backends.env } as Record<string, string>;
    const names = tableNames(prefix) as Record<string, string>;
    const admin = createEmulatorClients(backends);
    await provision(admin, names);
    admin.dynamo.destroy();
    admin.s3.destroy();
    return await work({ env, names });
  } finally {
    await backends.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
