import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { requestCounter } from '../shared/aws/request-counter';
import { startLocalBus } from './runtime';

/** `npm start`: the bus on this machine, until Ctrl-C or SIGTERM. */
async function main(): Promise<void> {
  // The SDK's notice that it will need Node 22 from 2027 is in the README; don't repeat it at every start.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Metrics are CloudWatch's embedded format on stdout: noise locally unless asked for.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  // Everything the bus and its emulators write (the log, objects, the admin key) is this user's only.
  process.umask(0o077);
  const dataDir = path.resolve(process.env.EVENTBUS_DATA_DIR ?? '.eventbus');
  const port = Number(process.env.EVENTBUS_PORT ?? 4000);
  console.log(`eventbus: starting (data in ${dataDir})`);
  let fatal: ((error: Error) => void) | undefined;
  const bus = await startLocalBus({
    dataDir,
    port,
    log: (line) => console.error(`eventbus: ${line}`),
    onFatal: (error) => fatal?.(error),
  });
  console.log(`eventbus: listening on ${bus.url}`);
  console.log(`eventbus: console on ${bus.url}/console`);
  console.log(`eventbus: Lambda Invoke API on ${bus.lambdaEndpoint}`);
  console.log(
    `eventbus: local functions: ${bus.localFunctions.length > 0 ? bus.localFunctions.join(', ') : '(none; declare yours with EVENTBUS_LOCAL_FUNCTIONS=name=path/to/module.ts#handler)'}`,
  );
  console.log(
    // The key is shown once, when it is made; a key the user gave or stored before is not printed again.
    bus.adminKeyGenerated
      ? `eventbus: admin key ${bus.adminKey} (generated, stored in ${dataDir}/admin-key)`
      : `eventbus: admin key from ${process.env.EVENTBUS_ADMIN_KEY ? 'EVENTBUS_ADMIN_KEY' : `${dataDir}/admin-key`}`,
  );
  console.log(`eventbus: try  curl -H "Authorization: Bearer <admin key>" ${bus.url}/topics`);

  const statsFile = process.env.EVENTBUS_REQUEST_STATS;
  if (statsFile) {
    // The benchmark asks for the request counts so far with SIGUSR2.
    process.on('SIGUSR2', () => writeFileSync(statsFile, JSON.stringify(requestCounter.snapshot())));
  }

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`eventbus: ${signal}, stopping`);
    bus.stop().then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  fatal = (error) => {
    if (stopping) return;
    stopping = true;
    console.error(
      `eventbus: ${error.message}; stopping the bus. Your data is kept in ${dataDir}: run npm start again.`,
    );
    bus.stop().finally(() => process.exit(1));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error) => {
  console.error(`eventbus: failed to start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
