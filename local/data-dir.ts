import { chmod, mkdir, open, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';

/** Another bus is running on the data directory, or the port is taken: nothing was started. */
export class LocalBusStartError extends Error {}

/**
 * Makes the data directory private (0700: the log, the emulators' files and
 * the admin key are readable by this user only) and takes its lock: one bus
 * per directory, since two DynamoDB Locals on one SQLite file corrupt each
 * other's view ("database is locked", spurious conflicts). A lock left by a
 * process that is gone is taken over. Returns the release.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  const lockFile = path.join(dataDir, 'bus.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockFile, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new LocalBusStartError(
          `Another bus (pid ${holder}) is running on ${dataDir}; stop it, or start this one with another EVENTBUS_DATA_DIR.`,
        );
      }
      // Stale: its process is gone. Take it over.
      await rm(lockFile, { force: true });
    }
  }
  throw new LocalBusStartError(`Could not take the lock ${lockFile}; another bus is starting on ${dataDir}.`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Refuses a port already in use on `host`, before anything is started. */
export async function assertPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new LocalBusStartError(
          error.code === 'EADDRINUSE'
            ? `Port ${port} on ${host} is already in use; stop what uses it, or set EVENTBUS_PORT to another port (0 picks a free one).`
            : `Cannot listen on ${host}:${port}: ${error.message}`,
        ),
      ),
    );
    server.listen(port, host, () => server.close(() => resolve()));
  });
}
