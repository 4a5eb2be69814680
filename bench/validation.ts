/**
 * `npm run bench` (last part): what schema validation costs a publish. The same order events are
 * published to a topic without a schema and to one with a realistic order schema, in requests of 100
 * and of 1: end-to-end through the bus as `npm start` runs it (events/s, p50), and the API handler's
 * own CPU per request in this process (bench/lambda-meter.ts), which prices the Lambda GB-s validation
 * adds. Prints one JSON object on stdout and rewrites the `validation` section of docs/benchmarks.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { apiFunction } from '../shared/topology';
import { BusProcess } from './bus-process';
import { orderCorpus } from './corpus';
import { writeSection } from './doc-sections';
import { withEmulators } from './emulators';
import { measureApiPublish } from './lambda-meter';
import { type LoadResult, percentile, runLoad, send } from './load';
import { price, priceTable } from './prices';

const ROOT = path.resolve(__dirname, '..');
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const auth = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
const SCENARIO_MS = Number(process.env.BENCH_SECONDS ?? 8) * 1000;
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
/** Each pair (unvalidated, validated) runs this many times in turn; the median run of each is kept. */
const ROUNDS = 3;
/** Rounds of the CPU measurement per batch size, alternating which of the two goes first. */
const CPU_ROUNDS = 4;

/** Lambda's CPU share is proportional to memory: a full vCPU at 1,769 MB. */
const FULL_VCPU_MB = 1769;

/**
 * An order as a checkout service would declare it (bench/corpus.ts's orders satisfy it): a dozen
 * properties, a nested customer and address, an array of lines, `format` email, date-time and uuid,
 * enums and an `orderId` pattern.
 */
export const ORDER_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: [
    'type',
    'eventId',
    'occurredAt',
    'orderId',
    'channel',
    'customer',
    'shippingAddress',
    'lines',
    'totals',
  ],
  properties: {
    type: { enum: ['order.placed', 'order.cancelled'] },
    eventId: { type: 'string', format: 'uuid' },
    occurredAt: { type: 'string', format: 'date-time' },
    orderId: { type: 'string', pattern: '^ord_[0-9A-Z]{14}$' },
    channel: { enum: ['web', 'ios', 'android', 'pos', 'marketplace'] },
    customer: {
      type: 'object',
      required: ['customerId', 'email'],
      properties: {
        customerId: { type: 'string', minLength: 1 },
        name: { type: 'string' },
        email: { type: 'string', format: 'email' },
        phone: { type: 'string' },
        loyaltyTier: { enum: ['none', 'silver', 'gold', 'platinum'] },
        firstOrder: { type: 'boolean' },
      },
    },
    shippingAddress: {
      type: 'object',
      required: ['line1', 'city', 'postalCode', 'country'],
      properties: {
        line1: { type: 'string', minLength: 1 },
        line2: { type: 'string' },
        city: { type: 'string' },
        region: { type: 'string' },
        postalCode: { type: 'string', maxLength: 16 },
        country: { type: 'string', minLength: 2, maxLength: 2 },
      },
      additionalProperties: false,
    },
    lines: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['sku', 'quantity', 'unitPrice'],
        properties: {
          sku: { type: 'string' },
          name: { type: 'string' },
          variant: { type: 'object' },
          quantity: { type: 'integer', minimum: 1 },
          unitPrice: { type: 'integer', minimum: 0 },
          discount: { type: 'integer', minimum: 0 },
        },
      },
    },
    totals: {
      type: 'object',
      required: ['currency', 'total'],
      properties: {
        currency: { type: 'string', minLength: 3, maxLength: 3 },
        subtotal: { type: 'integer' },
        shipping: { type: 'integer', minimum: 0 },
        tax: { type: 'integer', minimum: 0 },
        total: { type: 'integer', minimum: 0 },
      },
    },
    payment: {
      type: 'object',
      properties: { brand: { enum: ['visa', 'mastercard', 'amex', 'paypal', 'apple_pay'] } },
    },
    carrier: { type: 'string' },
    promoCode: { type: 'string' },
  },
};

interface LoadRow {
  readonly batch: number;
  readonly validated: boolean;
  readonly eventsPerSecond: number;
  readonly p50Ms: number;
  readonly failures: Record<string, number>;
  /** Every run's events/s, for the noise. */
  readonly runs: number[];
}

interface CpuRow {
  readonly batch: number;
  readonly validated: boolean;
  readonly cpuMsPerEvent: number;
  readonly cpuMsRange: readonly [number, number];
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

const round = (value: number, digits = 1) => Number(value.toFixed(digits));

function body(events: { key: string; value: Buffer }[]): Buffer {
  return Buffer.from(
    `{"events":[${events.map((e) => `{"key":${JSON.stringify(e.key)},"value":${e.value.toString('utf8')}}`).join(',')}]}`,
  );
}

/** End to end: the bus as users run it, both topics, the pairs in turn so load from elsewhere hits both alike. */
async function measureLoad(): Promise<LoadRow[]> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'eventbus-bench-validation-'));
  const agent = new Agent({ keepAlive: true });
  let bus: BusProcess | undefined;
  try {
    bus = await BusProcess.start({
      root: ROOT,
      dataDir,
      adminKey: ADMIN_KEY,
      statsFile: path.join(dataDir, 'request-stats.json'),
    });
    const url = bus.url;
    const call = async (method: string, route: string, payload: unknown) => {
      const answer = await send(agent, method, url + route, auth, Buffer.from(JSON.stringify(payload)));
      if (answer.status >= 300) throw new Error(`${method} ${route}: ${answer.status} ${answer.body}`);
    };
    for (const topic of ['orders-plain', 'orders-validated'])
      await call('PUT', `/topics/${topic}`, { partitions: 8, retentionHours: 24 });
    await call('PUT', '/topics/orders-validated/schema', { schema: ORDER_SCHEMA });
    const corpus = orderCorpus(100, 11);
    const bodies = { 1: body(corpus.slice(0, 1)), 100: body(corpus) } as Record<number, Buffer>;
    const load = (topic: string, batch: number, durationMs: number) =>
      runLoad({
        url: `${url}/topics/${topic}/events`,
        headers: () => auth,
        body: bodies[batch],
        eventsPerRequest: batch,
        concurrency: CLIENTS,
        durationMs,
      });
    log('warm-up, 10 s');
    for (const batch of [1, 100])
      for (const topic of ['orders-plain', 'orders-validated']) await load(topic, batch, 2_500);
    const rows: LoadRow[] = [];
    for (const batch of [100, 1]) {
      const runs: Record<string, LoadResult[]> = { 'orders-plain': [], 'orders-validated': [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const topic of round % 2 === 0
          ? ['orders-plain', 'orders-validated']
          : ['orders-validated', 'orders-plain']) {
          const result = await load(topic, batch, SCENARIO_MS);
          runs[topic].push(result);
          log(
            `batch ${batch}, ${topic}: ${Math.round(result.acknowledgedEvents / (result.elapsedMs / 1000))} events/s`,
          );
        }
      }
      for (const topic of ['orders-plain', 'orders-validated']) {
        const rates = runs[topic].map((r) => r.acknowledgedEvents / (r.elapsedMs / 1000));
        const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)];
        const kept = runs[topic][rates.indexOf(median)];
        rows.push({
          batch,
          validated: topic === 'orders-validated',
          eventsPerSecond: Math.round(median),
          p50Ms: round(percentile(kept.latenciesMs.slice().sort(), 0.5) ?? 0),
          failures: Object.assign({}, ...runs[topic].map((r) => r.failures)),
          runs: rates.map(Math.round),
        });
      }
    }
    return rows;
  } finally {
    await bus?.stop();
    agent.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The API handler's CPU per event in this process, against emulators of its own, with and without the
 * schema: in rounds that alternate which goes first (the first absorbs more of the JIT's warm-up), the
 * median of the rounds, and their range.
 */
async function measureCpu(): Promise<CpuRow[]> {
  return withEmulators('benchvalidation', async ({ env, names }) => {
    const rows: CpuRow[] = [];
    const sizes = { 100: { requests: 60, warmUp: 150 }, 1: { requests: 1_500, warmUp: 4_000 } };
    for (const batch of [100, 1] as const) {
      const perEvent = { plain: [] as number[], validated: [] as number[] };
      for (let round = 0; round < CPU_ROUNDS; round++) {
        for (const validated of round % 2 === 0 ? [false, true] : [true, false]) {
          const measured = await measureApiPublish({
            env: { ...env, ...names },
            batch,
            ...sizes[batch],
            requestsPerFlush: priceTable.assumptions.apiRequestsPerMetricsFlush,
            schema: validated ? ORDER_SCHEMA : undefined,
          });
          perEvent[validated ? 'validated' : 'plain'].push(measured.cpuMsPerRequest / batch);
          log(
            `CPU, batch ${batch}, round ${round + 1}, ${validated ? 'validated' : 'unvalidated'}: ${measured.cpuMsPerRequest} ms/request`,
          );
        }
      }
      for (const validated of [false, true]) {
        const runs = perEvent[validated ? 'validated' : 'plain'].slice().sort((a, b) => a - b);
        rows.push({
          batch,
          validated,
          cpuMsPerEvent: percentile(Float64Array.from(runs), 0.5) ?? 0,
          cpuMsRange: [runs[0], runs[runs.length - 1]],
        });
      }
    }
    return rows;
  });
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const load = await measureLoad();
  const cpu = await measureCpu();
  const memoryMb = apiFunction.memoryMiB;
  const gbSecondUsd = price('lambda.gbSecondArm64');
  const added = [100, 1].map((batch) => {
    const plain = cpu.find((r) => r.batch === batch && !r.validated) as CpuRow;
    const validated = cpu.find((r) => r.batch === batch && r.validated) as CpuRow;
    const cpuMs = Math.max(0, validated.cpuMsPerEvent - plain.cpuMsPerEvent);
    // Lambda runs the handler on `memoryMb / 1769` of a vCPU: its CPU time stretches by the inverse.
    const billedMs = cpuMs * (FULL_VCPU_MB / memoryMb);
    const gbSecondsPerMillion = (billedMs / 1000) * (memoryMb / 1024) * 1e6;
    return {
      batch,
      cpuMsPerEvent: round(cpuMs, 4),
      billedMsPerEvent: round(billedMs, 4),
      gbSecondsPerMillion: round(gbSecondsPerMillion, 1),
      usdPerMillion: round(gbSecondsPerMillion * gbSecondUsd, 4),
    };
  });
  const summary = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version },
    load,
    cpu,
    memoryMb,
    added,
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  writeSection('validation', render(summary));
}

function render(summary: {
  date: string;
  machine: { cpus: number; node: string };
  load: LoadRow[];
  cpu: CpuRow[];
  memoryMb: number;
  added: {
    batch: number;
    cpuMsPerEvent: number;
    billedMsPerEvent: number;
    gbSecondsPerMillion: number;
    usdPerMillion: number;
  }[];
}): string {
  const lost = (
    rows: { batch: number; validated: boolean }[],
    batch: number,
    figure: (r: never) => number,
    higherIsBetter: boolean,
  ) => {
    const plain = figure(rows.find((r) => r.batch === batch && !r.validated) as never);
    const validated = figure(rows.find((r) => r.batch === batch && r.validated) as never);
    const share = higherIsBetter ? 1 - validated / plain : 1 - plain / validated;
    return `${round(share * 100)} %`;
  };
  const loadRows = summary.load
    .map(
      (r) =>
        `| ${r.batch} | ${r.validated ? 'order schema' : 'none'} | ${r.eventsPerSecond} | ${r.runs.join(', ')} | ${r.p50Ms} ms | ${r.validated ? lost(summary.load, r.batch, (x: LoadRow) => x.eventsPerSecond, true) : '—'} |`,
    )
    .join('\n');
  const cpuRows = summary.cpu
    .map(
      (r) =>
        `| ${r.batch} | ${r.validated ? 'order schema' : 'none'} | ${round(r.cpuMsPerEvent, 4)} ms | ${round(r.cpuMsRange[0], 4)}–${round(r.cpuMsRange[1], 4)} ms | ${r.validated ? lost(summary.cpu, r.batch, (x: CpuRow) => 1 / x.cpuMsPerEvent, true) : '—'} |`,
    )
    .join('\n');
  const addedRows = summary.added
    .map(
      (a) =>
        `| ${a.batch} | ${a.cpuMsPerEvent} ms | ${a.billedMsPerEvent} ms | ${a.gbSecondsPerMillion} GB-s | $${a.usdPerMillion} |`,
    )
    .join('\n');
  return `## Schema validation at publish

Written by \`npm run bench\` (bench/validation.ts) on ${summary.date}, ${summary.machine.cpus} cores (a machine
shared with other work: compare rows of this run only), Node ${summary.machine.node}. The same order events
(bench/corpus.ts, about 1 KiB each) published to a topic without a schema and to one with
\`ORDER_SCHEMA\` (bench/validation.ts: 13 properties, a nested customer and address, an array of lines,
\`format\` uuid / date-time / email, enums, one \`pattern\`). Goal: validation loses less than 10 % of the
throughput.

End to end, the bus as \`npm start\` runs it, ${CLIENTS} clients, ${SCENARIO_MS / 1000} s per run; each pair ran
${ROUNDS} times in turn and the median run is shown (all runs beside it):

| events per request | schema | events/s | runs | p50 | throughput lost |
| --- | --- | --- | --- | --- | --- |
${loadRows}

The API handler's own CPU (user + system) per event, in this process against emulators of its own
(\`measureApiPublish\` after a warm-up, ${CPU_ROUNDS} rounds alternating which goes first, the median
round) — what validation adds where the bus spends it, and what Lambda bills, without DynamoDB Local's
share of the machine:

| events per request | schema | CPU per event | rounds' range | handler throughput lost |
| --- | --- | --- | --- | --- |
${cpuRows}

What validation adds on AWS, per million events published: the CPU added per event, stretched to
Lambda's share of a vCPU at the API function's ${summary.memoryMb} MB (${summary.memoryMb} / ${FULL_VCPU_MB} of a vCPU), billed as
GB-s at ${summary.memoryMb / 1024} GB (Arm price, bench/prices.json):

| events per request | CPU added per event | billed ms per event | per million events | USD per million |
| --- | --- | --- | --- | --- |
${addedRows}
`;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
