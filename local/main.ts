import type { AwsClients } from '../shared/aws/clients';
import { adminKeyFile, localDataDir, localPort } from './defaults';
import { startLocalBus } from './runtime';

/** What a caller running the bus as `npm start` does may add: the benchmark counts requests through `clients`. */
export interface RunLocalBusOptions {
  /** @default createAwsClients */
  readonly clients?: (env: NodeJS.ProcessEnv) => AwsClients;
}

/**
 * Runs the bus as `npm start` does (local/start.ts), until Ctrl-C or SIGTERM: prints where it listens
 * and its admin key, and exits when it stops. Failing to start exits with status 1.
 *
 * @example
 * runLocalBus({ clients: (env) => counted(createAwsClients(env)) });
 */
export async function runLocalBus(options: RunLocalBusOptions = {}): Promise<void> {
  try {
    await run(options);
  } catch (error) {
    console.error(`eventbus: failed to start: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
}

async function run(options: RunLocalBusOptions): Promise<void> {
  // The SDK's notice that it will need Node 22 from 2027 is in the README; don't repeat it at every start.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Metrics are CloudWatch's embedded format on stdout: noise locally unless asked for.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  // Everything the bus and its emulators write (the log, objects, the admin key) is this user's only.
  process.umask(0o077);
  const dataDir = localDataDir();
  const port = localPort();
  console.log(`eventbus: starting (data in ${dataDir})`);
  let fatal: ((error: Error) => void) | undefined;
  const bus = await startLocalBus({
    dataDir,
    port,
    log: (line) => console.error(`eventbus: ${line}`),
    onFatal: (error) => fatal?.(error),
    clients: options.clients,
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
      ? `eventbus: admin key ${bus.adminKey} (generated, stored in ${adminKeyFile(dataDir)})`
      : `eventbus: admin key from ${process.env.EVENTBUS_ADMIN_KEY ? 'EVENTBUS_ADMIN_KEY' : adminKeyFile(dataDir)}`,
  );
  console.log(`eventbus: try  curl -H "Authorization: Bearer <admin key>" ${bus.url}/topics`);

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
