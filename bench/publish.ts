/**
 * `npm run bench`: publish throughput, acknowledgement latency, AWS requests
 * per event and memory of the bus as `npm start` runs it. Prints one JSON
 * object on stdout (progress goes to stderr) and rewrites docs/benchmarks.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { LOCAL_NODE_ARGS } from '../local/node-args';
import { BusProcess, cpuSecondsOf, machineBusySeconds, rssOf, sleep } from './bus-process';
import { measureCodec } from './codec';
import { jsonString } from './corpus';
import { BENCHMARKS_PAGE, keepSections } from './doc-sections';
import { describeFailure, type LoadResult, percentile, runLoad, send } from './load';
import { LogTable } from './log-table';
import { type BenchSummary, judgeTargets, renderMarkdown, type ScenarioResult } from './report';

const ROOT = path.resolve(__dirname, '..');
const TOPIC = 'bench';
const PARTITIONS = 8;
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const VALUE_BYTES = 1024;
const SCENARIO_MS = Number(process.env.BENCH_SECONDS ?? 8) * 1000;
const WARMUP_MS = Number(process.env.BENCH_WARMUP_SECONDS ?? 20) * 1000;
const WARMUP_PHASE_MS = 2_000;
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
/** After the load stops, time for the dispatcher to catch up before the counts are read. */
const SETTLE_MS = 1_000;
const RSS_SAMPLE_MS = 200;
const MB = 1024 * 1024;
/** Extra flags for the bus's `node` (for profiling); none by default, so the bus runs as users run it. */
const busFlags = (process.env.BENCH_BUS_NODE_FLAGS ?? '').split(' ').filter(Boolean);

interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly contentType: string;
  readonly eventsPerRequest: number;
  readonly clients: number;
  readonly body: Buffer;
  readonly headers: () => Record<string, string>;
}

const auth = { authorization: `Bearer ${ADMIN_KEY}` };

function jsonBatch(events: number): Scenario['body'] {
  const values = Array.from({ length: events }, (_, i) => `{"value":${jsonString(VALUE_BYTES, i + 1)}}`);
  return Buffer.from(`{"events":[${values.join(',')}]}`);
}

function scenarios(): Scenario[] {
  const json = (name: string, description: string, eventsPerRequest: number, clients: number): Scenario => ({
    name,
    description,
    contentType: 'application/json',
    eventsPerRequest,
    clients,
    body: jsonBatch(eventsPerRequest),
    headers: () => ({ ...auth, 'content-type': 'application/json' }),
  });
  // Binary mode: the body is the event's data, a JSON object of 1 KiB.
  const data = Buffer.from(`{"data":${jsonString(VALUE_BYTES - 9, 7)}}`);
  let ceId = 0;
  return [
    json('single-1-client', 'one event per request, one client: the pure acknowledgement latency', 1, 1),
    json('batch-1', 'one event per request', 1, CLIENTS),
    // Next to batch-1, so the two single-event formats meet DynamoDB Local equally warmed up.
    {
      name: 'cloudevents-binary',
      description: 'one CloudEvent per request in binary mode (ce-* headers, the body is the data)',
      contentType: 'application/json + ce-* headers',
      eventsPerRequest: 1,
      clients: CLIENTS,
      body: data,
      headers: () => ({
        ...auth,
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': `bench-${++ceId}`,
        'ce-source': '/bench',
        'ce-type': 'bench.published',
      }),
    },
    json('batch-10', '10 events per request', 10, CLIENTS),
    json('batch-100', '100 events per request', 100, CLIENTS),
  ];
}

function named(all: readonly Scenario[], name: string): Scenario {
  return all.find((s) => s.name === name) as Scenario;
}

/** Samples the bus's RSS (and DynamoDB Local's) every 200 ms, tagged with the scenario running. */
class RssSampler {
  current = '';
  readonly busMax = new Map<string, number>();
  javaMax = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly busPid: number,
    private readonly javaPid: number | undefined,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), RSS_SAMPLE_MS);
  }

  sample(): void {
    const bus = rssOf(this.busPid);
    if (bus !== undefined) {
      this.busMax.set(this.current, Math.max(this.busMax.get(this.current) ?? 0, bus));
      this.busMax.set('*', Math.max(this.busMax.get('*') ?? 0, bus));
    }
    const java = this.javaPid === undefined ? undefined : rssOf(this.javaPid);
    if (java !== undefined) this.javaMax = Math.max(this.javaMax, java);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function diffCounts(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const diff: Record<string, number> = {};
  for (const op of Object.keys(after).sort()) {
    const n = after[op] - (before[op] ?? 0);
    if (n > 0) diff[op] = n;
  }
  return diff;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
const toMB = (bytes: number): number => round(bytes / MB, 1);

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

async function main(): Promise<void> {
  // As local/start.ts does: the SDK's notice about Node 22 is known.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'eventbus-bench-'));
  const statsFile = path.join(dataDir, 'request-stats.json');
  let bus: BusProcess | undefined;
  let logTable: LogTable | undefined;
  let sampler: RssSampler | undefined;
  const stopBus = async () => {
    sampler?.stop();
    logTable?.destroy();
    const result = bus ? await bus.stop() : undefined;
    bus = undefined;
    rmSync(dataDir, { recursive: true, force: true });
    return result;
  };
  let interrupted = false;
  // `on`, not `once`: Ctrl-C reaches us twice under the tsx CLI (from the terminal and relayed by tsx), and a
  // signal with no listener left would end the process before the bus is stopped and the data removed.
  const interrupt = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping the bus`);
    void stopBus().finally(() => process.exit(130));
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);

  try {
    log(`starting the bus (data in ${dataDir})`);
    const started = Date.now();
    bus = await BusProcess.start({
      root: ROOT,
      dataDir,
      adminKey: ADMIN_KEY,
      statsFile,
      nodeFlags: busFlags,
    });
    log(`bus pid ${bus.pid} healthy on ${bus.url} after ${Date.now() - started} ms`);
    const dynamo = bus.dynamoDbLocal();
    if (!dynamo) {
      throw new Error(
        'Found no DynamoDB Local started by the bus; run the bench without AWS_ENDPOINT_URL(_DYNAMODB).',
      );
    }
    logTable = new LogTable(dynamo.endpoint);
    const afterStartRss = bus.rssBytes() ?? 0;
    sampler = new RssSampler(bus.pid, dynamo.pid);

    const agent = new Agent({ keepAlive: true });
    const created = await send(
      agent,
      'PUT',
      `${bus.url}/topics/${TOPIC}`,
      { ...auth, 'content-type': 'application/json' },
      Buffer.from(JSON.stringify({ partitions: PARTITIONS, retentionHours: 24 })),
    );
    if (created.status !== 201) throw new Error(`PUT /topics/${TOPIC}: ${created.status} ${created.body}`);
    const publishUrl = `${bus.url}/topics/${TOPIC}/events`;
    let acknowledgedTotal = 0;

    // Warm-up: the bus's JIT, connections, every partition's head (cached by the appender), and above all
    // DynamoDB Local's JVM, which needs a few thousand requests before its latency settles.
    sampler.current = 'warm-up';
    log(`warm-up, ${WARMUP_MS} ms`);
    const all = scenarios();
    const warmup: { eventsPerRequest: number; requestsPerSecond: number }[] = [];
    const warmupEnds = Date.now() + WARMUP_MS;
    for (let phase = 0; Date.now() < warmupEnds; phase++) {
      // Mostly single events, the most requests to DynamoDB Local per second; every fourth phase large segments (S3).
      const scenario = named(all, phase % 4 === 3 ? 'batch-100' : 'batch-1');
      const warm = await runLoad({
        url: publishUrl,
        headers: scenario.headers,
        body: scenario.body,
        eventsPerRequest: scenario.eventsPerRequest,
        concurrency: CLIENTS,
        durationMs: Math.min(WARMUP_PHASE_MS, Math.max(0, warmupEnds - Date.now())),
      });
      acknowledgedTotal += warm.acknowledgedEvents;
      const requestsPerSecond = round(warm.acknowledgedRequests / (warm.elapsedMs / 1000), 1);
      warmup.push({ eventsPerRequest: scenario.eventsPerRequest, requestsPerSecond });
      log(`warm-up: ${scenario.eventsPerRequest} events/request, ${requestsPerSecond} requests/s`);
    }

    const results: ScenarioResult[] = [];
    const only = process.env.BENCH_SCENARIOS?.split(',').map((name) => name.trim());
    for (const scenario of all.filter((s) => !only || only.includes(s.name))) {
      const common = {
        name: scenario.name,
        description: scenario.description,
        contentType: scenario.contentType,
        eventsPerRequest: scenario.eventsPerRequest,
        clients: scenario.clients,
      };
      // A format the bus may not take yet is probed once and skipped with the bus's answer, not failed.
      const probe = await send(agent, 'POST', publishUrl, scenario.headers(), scenario.body);
      if (probe.status !== 200) {
        const reason = `${describeFailure(probe)}: ${errorMessage(probe.body)}`;
        log(`${scenario.name}: skipped (${reason})`);
        results.push({ ...common, status: 'skipped', skipReason: reason });
        continue;
      }
      acknowledgedTotal += scenario.eventsPerRequest;

      log(
        `${scenario.name}: ${scenario.clients} clients × ${scenario.eventsPerRequest} events/request, ${SCENARIO_MS} ms`,
      );
      await logTable.growth(TOPIC, PARTITIONS);
      const countsBefore = await bus.requestCounts();
      sampler.current = scenario.name;
      const cpuBefore = cpuNow(bus.pid, dynamo.pid);
      const load = await runLoad({
        url: publishUrl,
        headers: scenario.headers,
        body: scenario.body,
        eventsPerRequest: scenario.eventsPerRequest,
        concurrency: scenario.clients,
        durationMs: SCENARIO_MS,
      });
      const cpuAfter = cpuNow(bus.pid, dynamo.pid);
      await sleep(SETTLE_MS);
      sampler.current = '';
      const counts = diffCounts(countsBefore, await bus.requestCounts());
      const growth = await logTable.growth(TOPIC, PARTITIONS);
      acknowledgedTotal += load.acknowledgedEvents;
      results.push(
        scenarioResult(
          common,
          load,
          counts,
          growth,
          sampler.busMax.get(scenario.name) ?? 0,
          cpuBefore,
          cpuAfter,
        ),
      );
      const r = results[results.length - 1];
      log(
        `${scenario.name}: ${Math.round(r.eventsPerSecond ?? 0)} events/s, p50 ${r.latencyMs?.p50} ms, p99 ${r.latencyMs?.p99} ms, ` +
          `${growth.segments} segments, failures ${JSON.stringify(load.failures)}`,
      );
    }

    // Everything acknowledged must be in the log: the topic's end offsets sum to it.
    const described = await send(agent, 'GET', `${bus.url}/topics/${TOPIC}`, auth);
    agent.destroy();
    if (described.status !== 200)
      throw new Error(`GET /topics/${TOPIC}: ${described.status} ${described.body}`);
    const endOffsets = (JSON.parse(described.body) as { partitions: { endOffset: number }[] }).partitions.map(
      (p) => p.endOffset,
    );
    const inLog = endOffsets.reduce((a, b) => a + b, 0);
    sampler.sample();
    sampler.stop();

    const busRss = {
      maxMB: toMB(sampler.busMax.get('*') ?? 0),
      maxDuringScenariosMB: toMB(Math.max(0, ...results.map((r) => (r.busRssMaxMB ?? 0) * MB))),
      afterStartMB: toMB(afterStartRss),
    };
    const javaRssMax = toMB(sampler.javaMax);
    log('stopping the bus');
    const busOutput = bus.outputSinceStart();
    const shutdown = await stopBus();

    // With the bus gone, the codec has the machine to itself.
    log('segment codec');
    const values = Array.from({ length: 100 }, (_, i) => Buffer.from(jsonString(VALUE_BYTES, 1000 + i)));
    const codec = [measureCodec(values, 'none'), measureCodec(values, 'gzip')];
    const summary: BenchSummary = {
      date: new Date().toISOString(),
      machine: machine(),
      settings: {
        topic: TOPIC,
        partitions: PARTITIONS,
        valueBytes: VALUE_BYTES,
        keys: 'none (keyless: each request sticks to one partition, successive requests rotate)',
        scenarioSeconds: SCENARIO_MS / 1000,
        warmupSeconds: WARMUP_MS / 1000,
        warmupRequestsPerSecond: warmup,
        settleSecondsBeforeCounts: SETTLE_MS / 1000,
        http: 'node:http Agent, keep-alive, one connection per client, closed loop',
        busCommand: ['node', ...LOCAL_NODE_ARGS, ...busFlags, 'local/start.ts'].join(' '),
      },
      scenarios: results,
      busRss,
      dynamoDbLocalRssMaxMB: javaRssMax,
      logCheck: {
        acknowledgedEvents: acknowledgedTotal,
        eventsInLog: inLog,
        endOffsets,
        consistent: acknowledgedTotal === inLog,
      },
      codec,
      targets: judgeTargets(results, busRss.maxDuringScenariosMB),
      shutdown: { ...shutdown, busOutputSinceStart: busOutput },
    };
    // Only a complete run of the bus as users run it replaces the published figures.
    if (!only && busFlags.length === 0) writeFileSync(BENCHMARKS_PAGE, keepSections(renderMarkdown(summary)));
    else
      log('docs/benchmarks.md left as it was: BENCH_SCENARIOS or BENCH_BUS_NODE_FLAGS make this run partial');
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    if (shutdown?.exit !== 'code 0' || !shutdown.dynamoDbLocalExited) {
      throw new Error(`The bus did not stop cleanly: ${JSON.stringify(shutdown)}`);
    }
  } catch (error) {
    const tail = bus?.outputTail();
    await stopBus().catch(() => {});
    log(`failed: ${error instanceof Error ? error.message : String(error)}`);
    if (tail) log(`bus output (tail):\n${tail}`);
    process.exitCode = 1;
  }
}

function cpuNow(busPid: number, javaPid: number) {
  const own = process.cpuUsage();
  return {
    bus: cpuSecondsOf(busPid) ?? 0,
    java: cpuSecondsOf(javaPid) ?? 0,
    client: (own.user + own.system) / 1e6,
    machine: machineBusySeconds(),
    at: performance.now(),
  };
}

function scenarioResult(
  common: Pick<ScenarioResult, 'name' | 'description' | 'contentType' | 'eventsPerRequest' | 'clients'>,
  load: LoadResult,
  counts: Record<string, number>,
  growth: { segments: number; events: number; floorLag: number },
  rssMax: number,
  cpuBefore: ReturnType<typeof cpuNow>,
  cpuAfter: ReturnType<typeof cpuNow>,
): ScenarioResult {
  const seconds = load.elapsedMs / 1000;
  const sorted = load.latenciesMs.slice().sort();
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  const per1000Events: Record<string, number> = {};
  for (const [op, n] of Object.entries(counts))
    per1000Events[op] = round((n * 1000) / Math.max(1, load.acknowledgedEvents));
  const segments = Math.max(1, growth.segments);
  return {
    ...common,
    status: 'measured',
    durationS: round(seconds),
    acknowledgedRequests: load.acknowledgedRequests,
    acknowledgedEvents: load.acknowledgedEvents,
    failedRequests: load.failures,
    eventsPerSecond: round(load.acknowledgedEvents / seconds, 1),
    requestsPerSecond: round(load.acknowledgedRequests / seconds, 1),
    latencyMs: {
      p50: round(percentile(sorted, 0.5) ?? 0, 1),
      p99: round(percentile(sorted, 0.99) ?? 0, 1),
      max: round(sorted[sorted.length - 1] ?? 0, 1),
      mean: round(mean, 1),
    },
    awsRequests: { total: counts, per1000Events },
    segments: {
      committed: growth.segments,
      events: growth.events,
      eventsPerSegment: round(growth.events / segments, 1),
      requestsPerSegment: round(load.acknowledgedRequests / segments),
      putItemPerSegment: round((counts['DynamoDB.PutItem'] ?? 0) / segments, 3),
      updateItemPerSegment: round((counts['DynamoDB.UpdateItem'] ?? 0) / segments, 3),
      s3PutObjectPerSegment: round((counts['S3.PutObject'] ?? 0) / segments, 3),
      floorLagEvents: growth.floorLag,
    },
    busRssMaxMB: toMB(rssMax),
    cpuCores: cpuCores(cpuBefore, cpuAfter),
  };
}

function cpuCores(
  before: ReturnType<typeof cpuNow>,
  after: ReturnType<typeof cpuNow>,
): ScenarioResult['cpuCores'] {
  const wall = (after.at - before.at) / 1000;
  const cores = (key: 'bus' | 'java' | 'client' | 'machine') => round((after[key] - before[key]) / wall);
  const [bus, dynamoDbLocal, benchClient, machineBusy] = [
    cores('bus'),
    cores('java'),
    cores('client'),
    cores('machine'),
  ];
  // Whatever else ran on the machine meanwhile (the bus's watchdog, other people's processes).
  const other = round(Math.max(0, machineBusy - bus - dynamoDbLocal - benchClient));
  return { bus, dynamoDbLocal, benchClient, other, machineBusy };
}

function errorMessage(body: string): string {
  try {
    return (JSON.parse(body) as { error?: { message?: string } }).error?.message ?? body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}

function machine(): Record<string, unknown> {
  // `java -version` prints on stderr.
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr?.split('\n')[0] || 'java unknown';
  return {
    cpus: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    totalMemoryMB: Math.round(os.totalmem() / MB),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    java,
  };
}

void main();
