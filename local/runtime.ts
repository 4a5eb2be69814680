import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { S3Client } from '@aws-sdk/client-s3';
import { createApiHandler, screenRequest } from '../functions/api/handler';
import { createDelivererHandler } from '../functions/deliverer/handler';
import { createDispatcherHandler } from '../functions/dispatcher/handler';
import { createSweeperHandler } from '../functions/sweeper/handler';
import { type AwsClients, createAwsClients } from '../shared/aws/clients';
import {
  createBus,
  createBusCore,
  createDelivererRole,
  createDispatcherRole,
  createSweeperRole,
} from '../shared/bus';
import { SETTINGS, settingFromEnv } from '../shared/config';
import { limitsFromEnv } from '../shared/publish/limits';
import {
  apiFunction,
  delivererFunction,
  deliverySweepSchedule,
  dispatcherFunction,
  dispatcherTrigger,
  logTable,
  sweeperFunction,
  sweeperSchedule,
} from '../shared/topology';
import { assertPortFree, lockDataDir } from './data-dir';
import { adminKeyFile, localSweepSeconds } from './defaults';
import { LocalDelayQueue } from './delay-queue';
import { startLocalBackends } from './emulators';
import { functionEnvironment } from './function-environment';
import { drainFunctionUrl, serveFunctionUrl, serverUrl } from './function-url';
import { invokeEndpoint, LocalFunctions, type LocalHandler } from './local-functions';
import { provision, tableNames } from './provision';
import { StreamPoller } from './stream-poller';

export interface LocalBusOptions {
  /** Where the emulators keep their data and the generated admin key lives. */
  readonly dataDir: string;
  /** Port of the HTTP API; 0 picks a free one. */
  readonly port: number;
  /** The environment to read endpoints and settings from; it is updated with the endpoints and names in use. */
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
  /** Called when the bus can no longer work (an emulator died): the caller stops it. */
  readonly onFatal?: (error: Error) => void;
  /**
   * Makes the SDK clients of each function from its environment: the benchmark adds its request
   * counter here.
   * @default createAwsClients
   */
  readonly clients?: (env: NodeJS.ProcessEnv) => AwsClients;
}

/** How local mode runs one of the bus's functions: the stand-in for its trigger on AWS. */
export type LocalTrigger =
  | { readonly function: string; readonly trigger: 'url' | 'invoke' | 'schedule' | 'queue' }
  | {
      readonly function: string;
      readonly trigger: 'stream';
      readonly table: string;
      readonly batchSize: number;
      readonly eventNames: readonly string[];
    };

export interface LocalBus {
  readonly url: string;
  /** The functions and their triggers as wired here, to compare with a deployment's. */
  readonly triggers: readonly LocalTrigger[];
  /** Where the Lambda Invoke API of local mode (or the given `AWS_ENDPOINT_URL_LAMBDA`) answers. */
  readonly lambdaEndpoint: string;
  /** The user's functions declared with `EVENTBUS_LOCAL_FUNCTIONS`. */
  readonly localFunctions: readonly string[];
  readonly adminKey: string;
  /** Whether the admin key was generated (and stored) by this start. */
  readonly adminKeyGenerated: boolean;
  stop(): Promise<void>;
}

/**
 * Runs the bus on this machine: the emulators (unless endpoints are given),
 * the tables and bucket from `shared/topology.ts`, and the very handlers
 * deployed on AWS behind local stand-ins for their triggers — an HTTP
 * server for the Function URL, a stream poller for the stream trigger, a
 * timer for the schedule.
 */
export async function startLocalBus(options: LocalBusOptions): Promise<LocalBus> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const host = env.EVENTBUS_HOST ?? '127.0.0.1';
  // Refused before anything starts: a second bus on the same data, or a port in use.
  const unlock = await lockDataDir(options.dataDir);
  let backends: Awaited<ReturnType<typeof startLocalBackends>>;
  try {
    await assertPortFree(options.port, host);
    backends = await startLocalBackends(env, options.dataDir, {
      // An emulator that dies takes the bus with it, saying so: a bus that answers 503 forever helps nobody.
      onExit: (emulator, how) =>
        options.onFatal?.(new Error(`${emulator} exited (${how}) while the bus was running`)),
    });
  } catch (error) {
    await unlock();
    throw error;
  }
  const stops: (() => Promise<void>)[] = [unlock, () => backends.stop()];
  const stop = async (): Promise<void> => {
    for (const fn of stops.reverse()) await fn().catch((error) => log(`stop: ${(error as Error).message}`));
  };
  try {
    Object.assign(env, backends.env);
    for (const [name, value] of Object.entries(tableNames())) env[name] ??= value;
    const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    const dynamo = new DynamoDBClient({ region });
    await provision({ dynamo, s3: new S3Client({ region, forcePathStyle: true }) }, tableNames());

    // Local mode lets subscriptions reach the developer's own servers on loopback.
    env[SETTINGS.webhookAllow.env] ??= 'loopback,http';
    const { key: adminKey, generated } = await adminKeyFor(env, options.dataDir);
    // The Lambda Invoke API for the deliverer and the user's own functions: the dispatcher wakes
    // deliverers and invokes Lambda targets through it with the SDK, as on AWS.
    const functions = new LocalFunctions();
    await functions.loadDeclared(env.EVENTBUS_LOCAL_FUNCTIONS);
    const invokeServer = await functions.serve(Number(env.EVENTBUS_LAMBDA_PORT ?? 0));
    stops.push(async () => {
      await new Promise<void>((resolve) => {
        invokeServer.closeAllConnections();
        invokeServer.close(() => resolve());
      });
      // Runs in flight get a moment to commit; one cut short is safe (its lease expires, the batch is redelivered).
      await functions.idle(2_000);
    });
    env.AWS_ENDPOINT_URL_LAMBDA ??= invokeEndpoint(invokeServer);
    // Each function learns what its topology definition names, as its deployment does.
    const apiEnv = functionEnvironment([apiFunction], env);
    const clientsFor = options.clients ?? createAwsClients;
    const bus = createBus({ adminKey, env: apiEnv, clients: clientsFor(apiEnv) });
    const api = createApiHandler(bus, limitsFromEnv(apiEnv), undefined, {
      accessLog: settingFromEnv('accessLog', apiEnv),
    });
    const server: Server = await serveFunctionUrl(api as never, options.port, host, {
      screen: screenRequest(bus),
    });
    const triggers: LocalTrigger[] = [{ function: apiFunction.id, trigger: 'url' }];
    stops.push(() => drainFunctionUrl(server, SHUTDOWN_GRACE_MS));

    // The deliverer and the dispatcher share one process here, and so one environment.
    const deliveryEnv = functionEnvironment([delivererFunction, dispatcherFunction], env);
    // Lease wakes through an in-process delay queue, where AWS has an SQS queue (docs/adr/0019).
    const leaseWakes = new LocalDelayQueue({
      retryMs: dispatcherFunction.timeoutSeconds * 1000,
      onError: (error) => log(`lease wake: ${error.message}`),
    });
    stops.push(async () => leaseWakes.stop());
    const core = createBusCore({
      env: deliveryEnv,
      clients: clientsFor(deliveryEnv),
      delayedWaker: leaseWakes,
    });
    const delivery = createDelivererRole(core, {
      onError: (message, details) => log(`${message} ${JSON.stringify(details)}`),
      limits: limitsFromEnv(deliveryEnv),
    });
    functions.register(
      delivererFunction.id,
      createDelivererHandler(delivery) as LocalHandler,
      delivererFunction.timeoutSeconds * 1000,
    );
    triggers.push({ function: delivererFunction.id, trigger: 'invoke' });
    const dispatch = createDispatcherHandler(createDispatcherRole(core));
    leaseWakes.consumeWith(dispatch);
    triggers.push({ function: dispatcherFunction.id, trigger: 'queue' });
    const streamTrigger = {
      function: dispatcherFunction.id,
      trigger: 'stream',
      table: logTable.id,
      batchSize: dispatcherTrigger.batchSize,
      eventNames: dispatcherTrigger.eventNames,
    } as const;
    triggers.push(streamTrigger);
    const poller = new StreamPoller({
      dynamo,
      streams: new DynamoDBStreamsClient({ region }),
      table: env[logTable.envVar] as string,
      handler: dispatch,
      batchSize: streamTrigger.batchSize,
      eventNames: [...streamTrigger.eventNames],
      // Lambda polls a stream shard about four times a second; locally a shorter pause keeps delivery
      // latency low for a developer, at the cost of a GetRecords per shard every 50 ms while idle.
      idleMs: 50,
      onError: (error) => log(`dispatcher: ${(error as Error).message}`),
    });
    poller.start();
    stops.push(() => poller.stop());

    // Every second unless EVENTBUS_LOCAL_SWEEP_SECONDS says otherwise: 60 runs local mode as AWS runs, 0 not at all.
    const sweepSeconds = localSweepSeconds(env, deliverySweepSchedule.localEverySeconds);
    if (sweepSeconds > 0) {
      const deliverySweep = setInterval(() => {
        dispatch({ 'detail-type': 'Scheduled Event' }).catch((error) =>
          log(`delivery sweep: ${(error as Error).message}`),
        );
      }, sweepSeconds * 1000);
      deliverySweep.unref();
      stops.push(async () => clearInterval(deliverySweep));
    }
    triggers.push({ function: dispatcherFunction.id, trigger: 'schedule' });

    const sweeperEnv = functionEnvironment([sweeperFunction], env);
    const sweep = createSweeperHandler(
      createSweeperRole(createBusCore({ env: sweeperEnv, clients: clientsFor(sweeperEnv) })),
    );
    const timer = setInterval(() => {
      sweep().catch((error) => log(`sweeper: ${(error as Error).message}`));
    }, sweeperSchedule.localEverySeconds * 1000);
    timer.unref();
    triggers.push({ function: sweeperFunction.id, trigger: 'schedule' });
    stops.push(async () => clearInterval(timer));

    return {
      url: serverUrl(server),
      triggers,
      lambdaEndpoint: env.AWS_ENDPOINT_URL_LAMBDA,
      localFunctions: functions.names().filter((name) => name !== delivererFunction.id),
      adminKey,
      adminKeyGenerated: generated,
      stop: async () => {
        // Requests in flight finish and are answered before anything they need is stopped.
        await drainFunctionUrl(server, SHUTDOWN_GRACE_MS);
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** How long a stopping bus waits for requests in flight to be answered. */
const SHUTDOWN_GRACE_MS = 20_000;

/** `EVENTBUS_ADMIN_KEY`, else the key stored under the data directory, else a new one stored there. */
async function adminKeyFor(
  env: NodeJS.ProcessEnv,
  dataDir: string,
): Promise<{ key: string; generated: boolean }> {
  if (env.EVENTBUS_ADMIN_KEY) return { key: env.EVENTBUS_ADMIN_KEY, generated: false };
  const file = adminKeyFile(dataDir);
  try {
    return { key: (await readFile(file, 'utf8')).trim(), generated: false };
  } catch {
    const key = `eb_admin_${randomBytes(24).toString('base64url')}`;
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    return { key, generated: true };
  }
}
