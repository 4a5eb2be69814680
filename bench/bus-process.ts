import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { LOCAL_NODE_ARGS } from '../local/node-args';

/** What `npm start` gets from the benchmark besides the caller's own environment. */
export interface BusProcessOptions {
  /** The repository root, where `local/start.ts` is. */
  readonly root: string;
  readonly dataDir: string;
  readonly adminKey: string;
  /** Where the bus writes its AWS request counts on SIGUSR2. */
  readonly statsFile: string;
  /** Extra flags for the bus's `node`, such as `--cpu-prof` (empty for a run as users have it). */
  readonly nodeFlags?: readonly string[];
  readonly startTimeoutMs?: number;
}

/** CPU time used by a process so far, in seconds (user + system). */
export type CpuSeconds = number;

const CLOCK_TICKS = clockTicksPerSecond();
const OUTPUT_TAIL_LINES = 40;

/**
 * The bus as a user runs it: `npm start`'s code (bench/metered-bus.ts adds only
 * its request counter) without npm's own process in between, so `pid` is the
 * bus's own Node process and its RSS and CPU are the bus's; DynamoDB Local
 * (Java) and s3rver are child processes of their own.
 */
export class BusProcess {
  readonly url: string;
  private readonly output: string[] = [];
  /** Lines printed after the bus became healthy: with POWERTOOLS_LOG_LEVEL=WARN, warnings and errors. */
  private readonly laterOutput: string[] = [];
  private healthy = false;
  private exit?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly options: BusProcessOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
    for (const stream of [child.stdout, child.stderr]) {
      let pending = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (pending + chunk).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') this.keep(line);
      });
    }
  }

  /**
   * Starts the bus on a free port and resolves once `GET /health` answers 200.
   *
   * @example
   * const bus = await BusProcess.start({ root, dataDir, adminKey, statsFile });
   */
  static async start(options: BusProcessOptions): Promise<BusProcess> {
    const port = await freePort();
    const flags = options.nodeFlags ?? [];
    const child = spawn(process.execPath, [...LOCAL_NODE_ARGS, ...flags, 'bench/metered-bus.ts'], {
      cwd: options.root,
      env: {
        ...process.env,
        EVENTBUS_DATA_DIR: options.dataDir,
        EVENTBUS_PORT: String(port),
        EVENTBUS_ADMIN_KEY: options.adminKey,
        BENCH_REQUEST_STATS: options.statsFile,
        POWERTOOLS_LOG_LEVEL: 'WARN',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const bus = new BusProcess(child, port, options);
    try {
      await bus.waitUntilHealthy(options.startTimeoutMs ?? 120_000);
    } catch (error) {
      await bus.stop();
      throw error;
    }
    return bus;
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** The last lines the bus printed, for error messages. */
  outputTail(): string {
    return this.output.join('\n');
  }

  /** The first lines the bus printed once healthy: warnings and errors. */
  outputSinceStart(): string[] {
    return [...this.laterOutput];
  }

  /** Resident set size of the bus's Node process, in bytes (VmRSS). */
  rssBytes(): number | undefined {
    return rssOf(this.pid);
  }

  /** The DynamoDB Local process the bus started: its pid and endpoint, read from its command line. */
  dynamoDbLocal(): { pid: number; endpoint: string } | undefined {
    for (const pid of childrenOf(this.pid)) {
      const args = readFileSafe(`/proc/${pid}/cmdline`)?.split('\0') ?? [];
      if (
        !args.some((arg) => arg.endsWith('DynamoDBLocal.jar') || arg.endsWith('LoopbackDynamoDbLocal.java'))
      )
        continue;
      const flag = args.indexOf('-port');
      const port = flag >= 0 ? args[flag + 1] : undefined;
      if (port) return { pid, endpoint: `http://127.0.0.1:${port}` };
    }
    return undefined;
  }

  /**
   * The bus's AWS request counts so far, by `<Service>.<Operation>`: sends
   * SIGUSR2 and reads the file the bus rewrites (removed first, so an old
   * file is never mistaken for the answer).
   */
  async requestCounts(timeoutMs = 10_000): Promise<Record<string, number>> {
    const file = this.options.statsFile;
    if (existsSync(file)) unlinkSync(file);
    this.child.kill('SIGUSR2');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = readFileSafe(file);
      if (text) {
        try {
          return JSON.parse(text) as Record<string, number>;
        } catch {
          // Caught mid-write: read again.
        }
      }
      if (this.exit) throw new Error(`The bus exited (${describeExit(this.exit)}):\n${this.outputTail()}`);
      if (Date.now() > deadline)
        throw new Error(`The bus did not write ${file} within ${timeoutMs} ms of SIGUSR2.`);
      await sleep(20);
    }
  }

  /**
   * SIGTERM, then waits for the bus (and its DynamoDB Local) to exit; SIGKILL
   * after `graceMs`. Safe to call more than once.
   */
  async stop(graceMs = 20_000): Promise<{ exit: string; stopMs: number; dynamoDbLocalExited: boolean }> {
    const started = Date.now();
    const java = this.exit ? undefined : this.dynamoDbLocal()?.pid;
    if (!this.exit) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    const stopMs = Date.now() - started;
    let dynamoDbLocalExited = true;
    if (java !== undefined) {
      // The bus stops its Java child before exiting; give the kernel a moment to reap it.
      const deadline = Date.now() + 5_000;
      while (isAlive(java) && Date.now() < deadline) await sleep(50);
      dynamoDbLocalExited = !isAlive(java);
    }
    return { exit: describeExit(this.exit as NonNullable<typeof this.exit>), stopMs, dynamoDbLocalExited };
  }

  /**
   * SIGKILL to the bus and every process it started (DynamoDB Local, s3rver), as a crash of the machine
   * would stop them; resolves once the bus has exited. Its data directory stays for a restart.
   */
  async kill(): Promise<void> {
    const family = descendantsOf(this.pid);
    for (const pid of [this.pid, ...family]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await this.exited;
    const deadline = Date.now() + 5_000;
    while (family.some(isAlive) && Date.now() < deadline) await sleep(20);
  }

  private async waitUntilHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exit) {
        throw new Error(`The bus exited during start (${describeExit(this.exit)}):\n${this.outputTail()}`);
      }
      try {
        const response = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2_000) });
        await response.arrayBuffer();
        if (response.status === 200) {
          this.healthy = true;
          return;
        }
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        throw new Error(`GET /health did not answer 200 within ${timeoutMs} ms:\n${this.outputTail()}`);
      }
      await sleep(200);
    }
  }

  private keep(line: string): void {
    this.output.push(line);
    if (this.output.length > OUTPUT_TAIL_LINES) this.output.shift();
    if (this.healthy && this.laterOutput.length < OUTPUT_TAIL_LINES) this.laterOutput.push(line);
    if (process.env.BENCH_VERBOSE) process.stderr.write(`[bus] ${line}\n`);
  }
}

/** VmRSS of a process in bytes, or undefined when it is gone. */
export function rssOf(pid: number): number | undefined {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSafe(`/proc/${pid}/status`) ?? '');
  return match ? Number(match[1]) * 1024 : undefined;
}

/** User + system CPU seconds of a process, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): CpuSeconds | undefined {
  const stat = readFileSafe(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** CPU seconds the whole machine has been busy (all CPUs, everything but idle and iowait), from /proc/stat. */
export function machineBusySeconds(): CpuSeconds {
  const fields = (readFileSafe('/proc/stat') ?? '')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}

function childrenOf(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readFileSafe(`/proc/${entry}/stat`);
    if (!stat) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === parent) children.push(Number(entry));
  }
  return children;
}

function descendantsOf(parent: number): number[] {
  const children = childrenOf(parent);
  return [...children, ...children.flatMap(descendantsOf)];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0; it has exited all the same.
    return !/^State:\s+Z/m.test(readFileSafe(`/proc/${pid}/status`) ?? '');
  } catch {
    return false;
  }
}

function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}

function readFileSafe(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function clockTicksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** A port free on 127.0.0.1, found by binding port 0. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
