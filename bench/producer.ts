/**
 * The Producer's cost: publishes the same batches (100 keyless events of 1 KiB, one partition per request, an
 * Idempotency-Key on each) to a bus started as `npm start` runs it, once through `eventbus/client`'s
 * Producer and once as raw HTTP POSTs, with the same number of requests in flight, in alternating rounds.
 * Prints one JSON object on stdout (progress and a table on stderr): events/s and request p99 of both,
 * and the client's overhead in %. A benchmark, not a test. Knobs: BENCH_SECONDS (per row and round,
 * default 8), BENCH_ROUNDS (default 4), BENCH_WARMUP_SECONDS (default 20), BENCH_IN_FLIGHT (default 8).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { EventBusClient, Producer } from '../client';
import { BusProcess } from './bus-process';
import { jsonString } from './corpus';
import { writeSection } from './doc-sections';
import { describeFailure, percentile, send } from './load';

const ROOT = path.resolve(__dirname, '..');
const TOPIC = 'bench-producer';
const PARTITIONS = 8;
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const VALUE_BYTES = 1024;
const BATCH = 100;
const ROW_MS = Number(process.env.BENCH_SECONDS ?? 8) * 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_SECONDS ?? 20) * 1000;
/** Requests in flight: raw clients, and the Producer's partitions (each has one request in flight at most). */
const IN_FLIGHT = Math.min(PARTITIONS, Number(process.env.BENCH_IN_FLIGHT ?? 8));

interface RowResult {
  readonly row: 'raw-http' | 'raw-fetch' | 'producer';
  readonly round: number;
  readonly events: number;
  readonly requests: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** Request sent → whole answer read, per publish request. */
  readonly requestMs: { p50: number; p99: number };
  /** For the Producer: send() → its promise resolved, per event (includes the wait in its queue). */
  readonly sendToAckMs?: { p50: number; p99: number };
  /** For the Producer: the most publish requests it had in flight at once. */
  readonly maxRequestsInFlight?: number;
  /** CPU of this (client) process per 1000 events acknowledged. */
  readonly clientCpuMsPer1000Events: number;
  readonly failures: Record<string, number>;
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

const VALUES = Array.from({ length: BATCH }, (_, i) => JSON.parse(jsonString(VALUE_BYTES, i + 1)) as string);

/** The body the Producer sends for a full batch of keyless events on `partition`. */
function rawBody(partition: number): Buffer {
  return Buffer.from(JSON.stringify({ events: VALUES.map((value) => ({ value, partition })) }));
}

const round2 = (n: number) => Number(n.toFixed(2));

function quantiles(values: number[]): { p50: number; p99: number } {
  const sorted = Float64Array.from(values).sort();
  return { p50: round2(percentile(sorted, 0.5) ?? 0), p99: round2(percentile(sorted, 0.99) ?? 0) };
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * IN_FLIGHT clients in a closed loop, client i posting full batches to partition i, each with a fresh key:
 * over node:http (`raw-http`), or over fetch (`raw-fetch`, the client's transport, without the client).
 */
async function rawRow(
  transport: 'raw-http' | 'raw-fetch',
  url: string,
  round: number,
  durationMs: number,
): Promise<RowResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const bodies = Array.from({ length: PARTITIONS }, (_, p) => rawBody(p));
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const cpuBefore = cpuMs();
  const started = performance.now();
  const deadline = started + durationMs;
  let last = started;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, client) => {
      while (performance.now() < deadline) {
        const sent = performance.now();
        const headers = {
          authorization: `Bearer ${ADMIN_KEY}`,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        };
        const body = bodies[client % PARTITIONS];
        const answer = await (transport === 'raw-http'
          ? send(agent, 'POST', `${url}/topics/${TOPIC}/events`, headers, body)
          : fetch(`${url}/topics/${TOPIC}/events`, { method: 'POST', headers, body }).then(async (r) => ({
              status: r.status,
              body: await r.text(),
            }))
        ).catch((error) => ({ status: 0, body: String((error as Error).message) }));
        last = performance.now();
        if (answer.status === 200) {
          // Read as a client would: the positions of its events.
          JSON.parse(answer.body);
          latencies.push(last - sent);
        } else {
          const why = answer.status === 0 ? answer.body : describeFailure(answer);
          failures[why] = (failures[why] ?? 0) + 1;
        }
      }
    }),
  );
  agent.destroy();
  const seconds = (last - started) / 1000;
  const events = latencies.length * BATCH;
  return {
    row: transport,
    round,
    events,
    requests: latencies.length,
    seconds: round2(seconds),
    eventsPerSecond: Math.round(events / seconds),
    requestMs: quantiles(latencies),
    clientCpuMsPer1000Events: round2(((cpuMs() - cpuBefore) * 1000) / Math.max(1, events)),
    failures,
  };
}

/**
 * The Producer kept busy: as many unacknowledged sends as fill every partition's request twice, so it always
 * has full batches to send, and IN_FLIGHT requests at most.
 */
async function producerRow(url: string, round: number, durationMs: number): Promise<RowResult> {
  const requestLatencies: number[] = [];
  const failures: Record<string, number> = {};
  // Times each publish request as the raw row does: sent → whole answer read.
  let inFlight = 0;
  let maxInFlight = 0;
  const timed: typeof fetch = async (input, init) => {
    const sent = performance.now();
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    try {
      const response = await fetch(input, init);
      const body = await response.arrayBuffer();
      if (init?.method === 'POST') requestLatencies.push(performance.now() - sent);
      return new Response(body, { status: response.status, headers: response.headers });
    } finally {
      inFlight--;
    }
  };
  const client = new EventBusClient({ url, key: ADMIN_KEY, fetch: timed });
  const producer = new Producer(client, {
    lingerMs: 5,
    maxBatchEvents: BATCH,
    maxInFlightRequests: IN_FLIGHT,
  });
  await client.describeTopic(TOPIC);
  const window = IN_FLIGHT * BATCH * 2;
  const ackLatencies: number[] = [];
  let unacknowledged = 0;
  let wake: (() => void) | undefined;
  const cpuBefore = cpuMs();
  const started = performance.now();
  const deadline = started + durationMs;
  let last = started;
  let i = 0;
  while (performance.now() < deadline) {
    while (unacknowledged < window) {
      unacknowledged++;
      const sent = performance.now();
      producer.send(TOPIC, { value: VALUES[i++ % BATCH] }).then(
        () => {
          last = performance.now();
          ackLatencies.push(last - sent);
          unacknowledged--;
          wake?.();
        },
        (error) => {
          const code = (error as { code?: string }).code ?? String(error);
          failures[code] = (failures[code] ?? 0) + 1;
          unacknowledged--;
          wake?.();
        },
      );
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
  }
  // What is still queued is sent and counted: the row ends with its last answer, as the raw one does.
  await producer.close();
  const seconds = (last - started) / 1000;
  const events = ackLatencies.length;
  return {
    row: 'producer',
    round,
    events,
    requests: producer.stats.requests,
    seconds: round2(seconds),
    eventsPerSecond: Math.round(events / seconds),
    requestMs: quantiles(requestLatencies),
    sendToAckMs: quantiles(ackLatencies),
    maxRequestsInFlight: maxInFlight,
    clientCpuMsPer1000Events: round2(((cpuMs() - cpuBefore) * 1000) / Math.max(1, events)),
    failures,
  };
}

function combined(rows: RowResult[]): { eventsPerSecond: number; requestP99Ms: number } {
  const events = rows.reduce((n, r) => n + r.events, 0);
  const seconds = rows.reduce((n, r) => n + r.seconds, 0);
  return {
    eventsPerSecond: Math.round(events / seconds),
    // The worst round's p99: a conservative figure for both rows alike.
    requestP99Ms: Math.max(...rows.map((r) => r.requestMs.p99)),
  };
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'eventbus-bench-producer-'));
  let bus: BusProcess | undefined;
  const stop = async () => {
    await bus?.stop();
    bus = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.on('SIGINT', () => void stop().finally(() => process.exit(130)));
  try {
    log(`starting the bus (data in ${dataDir})`);
    bus = await BusProcess.start({
      root: ROOT,
      dataDir,
      adminKey: ADMIN_KEY,
      statsFile: path.join(dataDir, 'request-stats.json'),
    });
    const admin = new EventBusClient({ url: bus.url, key: ADMIN_KEY });
    await admin.createTopic(TOPIC, { partitions: PARTITIONS, retentionHours: 24 });
    log(`warm-up, ${WARMUP_MS} ms of the three rows`);
    await rawRow('raw-http', bus.url, 0, WARMUP_MS / 3);
    await rawRow('raw-fetch', bus.url, 0, WARMUP_MS / 3);
    await producerRow(bus.url, 0, WARMUP_MS / 3);

    const rows: RowResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternating, and the order swapped each round, so neither row always meets a warmer bus.
      const url = bus.url;
      const rowsOfRound = [
        (r: number) => rawRow('raw-http', url, r, ROW_MS),
        (r: number) => rawRow('raw-fetch', url, r, ROW_MS),
        (r: number) => producerRow(url, r, ROW_MS),
      ];
      const order = round % 2 === 1 ? rowsOfRound : rowsOfRound.reverse();
      for (const row of order) {
        const result = await row(round);
        rows.push(result);
        log(
          `round ${round} ${result.row}: ${result.eventsPerSecond} events/s, request p50 ${result.requestMs.p50} ms p99 ${result.requestMs.p99} ms, ` +
            `${result.requests} requests, failures ${JSON.stringify(result.failures)}`,
        );
      }
    }
    const raw = combined(rows.filter((r) => r.row === 'raw-http'));
    const rawFetch = combined(rows.filter((r) => r.row === 'raw-fetch'));
    const producer = combined(rows.filter((r) => r.row === 'producer'));
    const cpu = (row: RowResult['row']) => {
      const of = rows.filter((r) => r.row === row);
      return round2(of.reduce((n, r) => n + r.clientCpuMsPer1000Events, 0) / of.length);
    };
    const against = (base: { eventsPerSecond: number; requestP99Ms: number }) => ({
      throughputPercent: round2(
        ((base.eventsPerSecond - producer.eventsPerSecond) / base.eventsPerSecond) * 100,
      ),
      requestP99Percent: round2(((producer.requestP99Ms - base.requestP99Ms) / base.requestP99Ms) * 100),
    });
    const overhead = { ...against(raw), versusRawFetch: against(rawFetch) };
    const clientCpuMsPer1000Events = {
      rawHttp: cpu('raw-http'),
      rawFetch: cpu('raw-fetch'),
      producer: cpu('producer'),
    };
    const summary = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version },
      settings: {
        topic: TOPIC,
        partitions: PARTITIONS,
        valueBytes: VALUE_BYTES,
        eventsPerRequest: BATCH,
        requestsInFlight: IN_FLIGHT,
        secondsPerRowAndRound: ROW_MS / 1000,
        rounds: ROUNDS,
        warmupSeconds: WARMUP_MS / 1000,
        rawHttp:
          'node:http Agent, keep-alive, closed loop, an Idempotency-Key per request, client i on partition i',
        producer: `eventbus/client Producer (fetch), lingerMs 5, maxBatchEvents ${BATCH}, maxInFlightRequests ${IN_FLIGHT}, keyless (sticky partition)`,
      },
      rows,
      rawHttp: raw,
      rawFetch,
      producer,
      overhead,
      clientCpuMsPer1000Events,
      target: {
        what: 'the Producer costs under 10 % of raw HTTP throughput',
        met: overhead.throughputPercent < 10,
      },
    };
    process.stderr.write(
      [
        '',
        '| row | events/s | request p99 ms | client CPU ms / 1000 events |',
        '| --- | --- | --- | --- |',
        `| raw HTTP, node:http (same batches) | ${raw.eventsPerSecond} | ${raw.requestP99Ms} | ${clientCpuMsPer1000Events.rawHttp} |`,
        `| raw HTTP, fetch (same batches) | ${rawFetch.eventsPerSecond} | ${rawFetch.requestP99Ms} | ${clientCpuMsPer1000Events.rawFetch} |`,
        `| Producer | ${producer.eventsPerSecond} | ${producer.requestP99Ms} | ${clientCpuMsPer1000Events.producer} |`,
        `| Producer's overhead vs node:http | ${overhead.throughputPercent} % | ${overhead.requestP99Percent} % | |`,
        `| Producer's overhead vs fetch | ${overhead.versusRawFetch.throughputPercent} % | ${overhead.versusRawFetch.requestP99Percent} % | |`,
        '',
      ].join('\n'),
    );
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    writeSection(
      'producer',
      renderProducer(summary.date, { raw, rawFetch, producer }, clientCpuMsPer1000Events, overhead),
    );
  } catch (error) {
    log(`failed: ${error instanceof Error ? error.stack : String(error)}`);
    if (bus) log(`bus output (tail):\n${bus.outputTail()}`);
    process.exitCode = 1;
  } finally {
    await stop();
  }
}

type Throughput = { eventsPerSecond: number; requestP99Ms: number };

/** The docs section (docs/benchmarks.md, "producer"), so the page's rewrite by bench/publish.ts keeps it. */
function renderProducer(
  date: string,
  runs: { raw: Throughput; rawFetch: Throughput; producer: Throughput },
  cpu: { rawHttp: number; rawFetch: number; producer: number },
  overhead: { throughputPercent: number; requestP99Percent: number },
): string {
  const { raw, rawFetch, producer } = runs;
  return [
    "## The client's Producer against raw HTTP",
    '',
    '`npx tsx bench/producer.ts` (the last part of `npm run bench`; it writes this section): the same batches of',
    `${BATCH} × ${VALUE_BYTES / 1024} KiB events, each with an \`Idempotency-Key\`, ${IN_FLIGHT} requests in flight, ${ROUNDS} alternating rounds of ${ROW_MS / 1000} s after a`,
    `${WARMUP_MS / 1000} s warm-up, against one local bus. Run ${date.slice(0, 16)}Z on a ${os.cpus().length}-core machine:`,
    '',
    '| row | events/s | request p99 ms | client CPU ms / 1000 events |',
    '| --- | --- | --- | --- |',
    `| raw HTTP, node:http | ${raw.eventsPerSecond.toLocaleString('en-US')} | ${raw.requestP99Ms} | ${cpu.rawHttp} |`,
    `| raw HTTP, fetch | ${rawFetch.eventsPerSecond.toLocaleString('en-US')} | ${rawFetch.requestP99Ms} | ${cpu.rawFetch} |`,
    `| Producer (\`eventbus/client\`) | ${producer.eventsPerSecond.toLocaleString('en-US')} | ${producer.requestP99Ms} | ${cpu.producer} |`,
    '',
    `The Producer costs ${overhead.throughputPercent} % of the throughput of hand-rolled node:http requests and`,
    `${overhead.requestP99Percent} % on request p99 (goal: under 10 % of throughput, ${overhead.throughputPercent < 10 ? 'met' : 'NOT met'}). Rounds on a`,
    'shared machine spread by several percent; the client CPU per event is the stable figure (the Producer uses',
    '`fetch`, which costs more CPU than node:http by itself).',
  ].join('\n');
}

void main();
