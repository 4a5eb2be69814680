/**
 * `tsx bench/appenders.ts`: the Lambda-like scenario. On AWS each Lambda
 * instance serves one request at a time, so N busy publishers are N
 * independent appenders racing for a partition's head, with no group commit
 * between them. Here each appender has its own SDK clients and its own `Log`
 * (nothing in memory is shared: no head cache, no queue) and publishes one
 * corpus event at a time in a closed loop, against one DynamoDB Local and
 * s3rver; N = 1, 4, 16 on ONE partition and on separate partitions.
 *
 * Prints one JSON object; writes bench/results/appenders-<BENCH_LABEL>.json
 * and the "appenders" section of docs/benchmarks.md (every label's results
 * side by side). Knobs: BENCH_SECONDS (per scenario, default 10),
 * BENCH_LABEL (default "current"), BENCH_WARMUP_SECONDS (default 8),
 * BENCH_BATCH (events per append, default 1).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createEmulatorClients } from '../local/emulators';
import { Log } from '../shared/log/log';
import { partitionKey } from '../shared/log/partition-key';
import type { SegmentRecord } from '../shared/segment/codec';
import { logTable, segmentBucket } from '../shared/topology';
import { orderCorpus } from './corpus';
import { writeSection } from './doc-sections';
import { withEmulators } from './emulators';
import { price } from './prices';
import { addCounts, emptyCounts, meterRequests } from './request-meter';

const SCENARIO_MS = Number(process.env.BENCH_SECONDS ?? 10) * 1000;
const WARMUP_MS = Number(process.env.BENCH_WARMUP_SECONDS ?? 8) * 1000;
const LABEL = process.env.BENCH_LABEL ?? 'current';
const RESULTS = path.resolve(__dirname, 'results');
const PREFIX = 'benchapp';
/**
 * Runs measure the bus's own appender (`bus`: optimistic while a partition is calm, reserved epochs
 * while it is crowded: docs/adr/0011). Runs saved before ADR 0011 say `optimistic`: the appender then
 * had no epochs. Saved runs labelled `reserve-<k>` and `combine` measured the rejected prototypes of
 * docs/adr/0009 and docs/adr/0012, whose code those ADRs point to.
 */
const MODE = 'bus';
/** Events per append: 1 is single-event publishes; more is a producer that batches (the client's `Producer`). */
const BATCH = Number(process.env.BENCH_BATCH ?? 1);

interface Scenario {
  readonly name: string;
  readonly appenders: number;
  readonly layout: 'one partition' | 'separate partitions';
}

const SCENARIOS: Scenario[] = [
  { name: 'one-1', appenders: 1, layout: 'one partition' },
  { name: 'one-4', appenders: 4, layout: 'one partition' },
  { name: 'separate-4', appenders: 4, layout: 'separate partitions' },
  { name: 'one-16', appenders: 16, layout: 'one partition' },
  { name: 'separate-16', appenders: 16, layout: 'separate partitions' },
];

export interface AppendersResult {
  readonly name: string;
  readonly appenders: number;
  readonly layout: string;
  readonly acknowledged: number;
  /** Events whose append failed after the appender's bounded retries: the API's 503. */
  readonly refused: number;
  readonly eventsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly writeRequestsPerAck: number;
  readonly writeUnitsPerAck: number;
  readonly conditionFailuresPerAck: number;
  readonly queriesPerAck: number;
  /** Read units per acknowledged event (strongly consistent: one per started 4 KB of the items read). */
  readonly readUnitsPerAck?: number;
  /** DynamoDB's bill per million acknowledged events: write and read units at bench/prices.json's prices. */
  readonly dynamoUsdPerMillion?: number;
  /** Saved combiner runs only (docs/adr/0012): appends whose staged events were passed over and staged again. */
  readonly restaged?: number;
  readonly meanPutItemBytes: number;
  /** Offsets in the log after the run: dense and equal to the acknowledged events, or not. */
  readonly check: { readonly events: number; readonly dense: boolean };
}

function log(message: string): void {
  process.stderr.write(`[appenders] ${message}\n`);
}

function appender(env: Record<string, string>, names: Record<string, string>) {
  const counts = emptyCounts();
  const { dynamo: raw, s3 } = createEmulatorClients({
    dynamoEndpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
    s3Endpoint: env.AWS_ENDPOINT_URL_S3,
  });
  meterRequests(raw, counts);
  const dynamo = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const config = {
    logTable: names[logTable.envVar],
    bucket: names[segmentBucket.envVar],
    inlineThresholdBytes: 8 * 1024,
    headCacheMs: 5_000,
    appendAttempts: 8,
    segmentCodec: 'none' as const,
  };
  const log = new Log({ dynamo, s3, config });
  const append = async (topic: string, partition: number, records: SegmentRecord[]) => {
    await log.append(topic, partition, 24, records);
  };
  return {
    append,
    counts,
    close: () => {
      raw.destroy();
      s3.destroy();
    },
  };
}

async function run(
  scenario: Scenario,
  topic: string,
  env: Record<string, string>,
  names: Record<string, string>,
  durationMs: number,
): Promise<AppendersResult> {
  const corpus = orderCorpus(2_000, 7);
  const writers = Array.from({ length: scenario.appenders }, () => appender(env, names));
  // Per append (request); the per-event figures divide by the events acknowledged.
  const latencies: number[] = [];
  let acknowledgedEvents = 0;
  let refused = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  let last = started;
  await Promise.all(
    writers.map(async (writer, i) => {
      const partition = scenario.layout === 'one partition' ? 0 : i;
      let n = i * 97;
      while (performance.now() < deadline) {
        const events = Array.from({ length: BATCH }, () => corpus[n++ % corpus.length]);
        const sent = performance.now();
        try {
          await writer.append(
            topic,
            partition,
            events.map((event) => ({
              timestamp: Date.now(),
              key: Buffer.from(event.key),
              value: event.value,
              json: true,
              headers: {},
            })),
          );
          last = performance.now();
          latencies.push(last - sent);
          acknowledgedEvents += BATCH;
        } catch (error) {
          last = performance.now();
          if ((error as { status?: number }).status === 503) refused += BATCH;
          else throw error;
        }
      }
    }),
  );
  const total = emptyCounts();
  for (const w of writers) {
    addCounts(total, w.counts);
    w.close();
  }
  const check = await checkLog(
    env,
    names,
    topic,
    scenario.layout === 'one partition' ? 1 : scenario.appenders,
  );
  latencies.sort((a, b) => a - b);
  const acknowledged = acknowledgedEvents;
  const per = (n: number) => round(n / Math.max(1, acknowledged), 3);
  return {
    name: scenario.name,
    appenders: scenario.appenders,
    layout: scenario.layout,
    acknowledged,
    refused,
    eventsPerSecond: Math.round(acknowledged / ((last - started) / 1000)),
    p50Ms: round(latencies[Math.floor(latencies.length * 0.5)] ?? 0, 1),
    p99Ms: round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0, 1),
    writeRequestsPerAck: per(total.writeRequests),
    writeUnitsPerAck: per(total.writeUnits),
    conditionFailuresPerAck: per(total.conditionFailures),
    queriesPerAck: per(total.requests.Query ?? 0),
    readUnitsPerAck: per(total.readUnits),
    dynamoUsdPerMillion: round(
      ((total.writeUnits * price('dynamodb.writeRequestUnit') +
        total.readUnits * price('dynamodb.readRequestUnit')) *
        1_000_000) /
        Math.max(1, acknowledged),
      3,
    ),
    meanPutItemBytes: Math.round(mean(total.putItemBytes)),
    check: { events: check.events, dense: check.dense && check.events === acknowledged },
  };
}

/** Reads the partitions back past any appender: offsets must be dense from 0, one event per acknowledgement. */
async function checkLog(
  env: Record<string, string>,
  names: Record<string, string>,
  topic: string,
  partitions: number,
): Promise<{ events: number; dense: boolean }> {
  const { dynamo } = createEmulatorClients({
    dynamoEndpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
    s3Endpoint: env.AWS_ENDPOINT_URL_S3,
  });
  let events = 0;
  let dense = true;
  try {
    for (let p = 0; p < partitions; p++) {
      let expected = 0;
      let startKey: Record<string, never> | undefined;
      do {
        const page = await dynamo.send(
          new QueryCommand({
            TableName: names[logTable.envVar],
            KeyConditionExpression: 'pk = :pk AND sk >= :zero',
            ExpressionAttributeValues: { ':pk': { S: partitionKey(topic, p) }, ':zero': { N: '0' } },
            ProjectionExpression: 'sk, #last, #count',
            ExpressionAttributeNames: { '#last': 'last', '#count': 'count' },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of page.Items ?? []) {
          const sk = Number(item.sk.N);
          const lastOffset = Number(item.last.N);
          if (sk !== expected) dense = false;
          // A gap marker (count 0) covers offsets that hold no event.
          events += Number(item.count.N);
          expected = lastOffset + 1;
        }
        startKey = page.LastEvaluatedKey as typeof startKey;
      } while (startKey);
    }
  } finally {
    dynamo.destroy();
  }
  return { events, dense };
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length;
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

/** The docs section: every recorded label's figures, scenario by scenario. */
export function renderAppenders(
  byLabel: Record<
    string,
    { date: string; results: AppendersResult[]; loadAverage1m?: number; mode?: string; batch?: number }
  >,
): string {
  const lines = [
    '## Independent appenders (Lambda-like)',
    '',
    '`tsx bench/appenders.ts` (`BENCH_LABEL=<label>`): N appenders that share nothing — each its own SDK clients',
    'and `Log`, so no group commit and no shared head cache, as between Lambda instances — publish one ~1 KiB',
    'corpus event (`bench/corpus.ts`) at a time (labels `…-batch-<n>`: n events per append, `BENCH_BATCH`) in a',
    'closed loop against one DynamoDB Local, on one partition or on a partition each; per-ack figures are per',
    'event. Write requests and write units are counted by SDK middleware in each appender',
    '(`bench/request-meter.ts`; write units by the item size rule, `shared/log/item-size.ts`; a failed',
    'conditional write is billed too). "refused" are appends that gave up after the bounded retries (the',
    'API\'s 503). "dense" checks the partitions afterwards: offsets dense from 0 (gap items included: they',
    'cover offsets that hold no event, docs/adr/0011) and one event per acknowledgement.',
    '',
    '| label | scenario | appenders | layout | events/s | p50 ms | p99 ms | write req/ack | write units/ack | failed conditions/ack | head reads/ack | refused | PutItem bytes | dense |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [label, { date, results, loadAverage1m }] of Object.entries(byLabel)) {
    for (const r of results) {
      const load = loadAverage1m === undefined ? '' : `, load ${loadAverage1m}`;
      lines.push(
        `| ${label} (${date.slice(11, 16)}Z${load}) | ${r.name} | ${r.appenders} | ${r.layout} | ${r.eventsPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.writeRequestsPerAck} | ${r.writeUnitsPerAck} | ${r.conditionFailuresPerAck} | ${r.queriesPerAck} | ${r.refused} | ${r.meanPutItemBytes} | ${r.check.dense ? 'yes' : `NO (${r.check.events} events)`} |`,
      );
    }
  }
  lines.push(
    '',
    'Against the goal — 16 writers on one partition: ≥ 80 % of the separate-partition throughput, ≤ 1.25 write',
    'requests per acknowledged event, no refusal (throughput here is bounded by a shared 2-core machine and one',
    "SQLite file, so the ratio is indicative only; `reserve-*` labels are the benchmark's prototype of ranges",
    'reserved ahead and `combine` its prototype of a combiner, not the bus — see docs/adr/0009-contended-appends.md,',
    'docs/adr/0011-reserved-epochs.md and docs/adr/0012-no-combiner.md; DynamoDB $ counts write and read units',
    "at bench/prices.json's prices, failed conditional writes included):",
    '',
    '| label | mode | throughput one / separate | p50 ms one / separate | write req/ack | write units/ack | read units/ack | DynamoDB $/M events | refused | met |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const [label, saved] of Object.entries(byLabel)) {
    const one = saved.results.find((r) => r.name === 'one-16');
    const separate = saved.results.find((r) => r.name === 'separate-16');
    if (!one || !separate) continue;
    const ratio = one.eventsPerSecond / Math.max(1, separate.eventsPerSecond);
    const met = ratio >= 0.8 && one.writeRequestsPerAck <= 1.25 && one.refused === 0;
    lines.push(
      `| ${label} | ${saved.mode ?? 'optimistic'}${(saved.batch ?? 1) > 1 ? `, ${saved.batch} events/append` : ''} | ${Math.round(ratio * 100)} % | ${one.p50Ms} / ${separate.p50Ms} | ${one.writeRequestsPerAck} | ${one.writeUnitsPerAck} | ${one.readUnitsPerAck ?? '—'} | ${one.dynamoUsdPerMillion === undefined ? '—' : `$${one.dynamoUsdPerMillion.toFixed(2)}`} | ${one.refused} of ${one.acknowledged + one.refused} | ${met ? 'yes' : 'no'} |`,
    );
  }
  return lines.join('\n');
}

/** Rewrites the docs section from every run saved in bench/results/. */
function renderSaved(): void {
  const byLabel: Parameters<typeof renderAppenders>[0] = {};
  const runs = readdirSync(RESULTS)
    .filter((f) => /^appenders-.+\.json$/.test(f))
    .map((f) => JSON.parse(readFileSync(path.join(RESULTS, f), 'utf8')))
    .sort((a, b) => a.date.localeCompare(b.date));
  for (const saved of runs) byLabel[saved.label] = saved;
  writeSection('appenders', renderAppenders(byLabel));
}

async function main(): Promise<void> {
  // `--render`: only rewrite the docs section from the saved runs.
  if (process.argv.includes('--render')) return renderSaved();
  await withEmulators(PREFIX, async ({ env, names }) => {
    log(`warming DynamoDB Local up for ${WARMUP_MS / 1000} s`);
    await run(
      { name: 'warmup', appenders: 4, layout: 'separate partitions' },
      'warmup',
      env,
      names,
      WARMUP_MS,
    );
    const results: AppendersResult[] = [];
    for (const scenario of SCENARIOS) {
      const result = await run(scenario, `bench-${scenario.name}`, env, names, SCENARIO_MS);
      log(JSON.stringify(result));
      results.push(result);
    }
    const summary = {
      label: LABEL,
      mode: MODE,
      batch: BATCH,
      date: new Date().toISOString(),
      scenarioSeconds: SCENARIO_MS / 1000,
      // The machine is shared: the 1-minute load average at the end says how much else ran.
      loadAverage1m: Number(os.loadavg()[0].toFixed(1)),
      cores: os.cpus().length,
      results,
    };
    writeFileSync(path.join(RESULTS, `appenders-${LABEL}.json`), `${JSON.stringify(summary, null, 2)}\n`);
    renderSaved();
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  });
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
