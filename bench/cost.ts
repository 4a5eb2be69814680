/**
 * `tsx bench/cost.ts`: the AWS cost per million realistic ~1 KiB events
 * (bench/corpus.ts), published in batches of 1, 10 and 100 and delivered to
 * 1 and 3 groups, beside EventBridge, SNS + SQS and Kinesis on-demand for the
 * same workload; and the storage cost per GB-month retained.
 *
 * The bus's requests are counted, not assumed: one `Log` with metered SDK
 * clients (bench/request-meter.ts) appends the corpus to DynamoDB Local and
 * s3rver, and a second reads it back 100 events at a time, as a deliverer
 * does; write units come from the item size rule (shared/log/item-size.ts),
 * read units from the items read. Prices and the assumptions that cannot be
 * measured locally (Lambda durations, stream batching) are in
 * bench/prices.json, each with its source. Prints JSON; writes the "cost"
 * section of docs/benchmarks.md.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createEmulatorClients, startLocalBackends } from '../local/emulators';
import { provision, tableNames } from '../local/provision';
import { Log } from '../shared/log/log';
import { logTable, segmentBucket } from '../shared/topology';
import { orderCorpus } from './corpus';
import { writeSection } from './doc-sections';
import { emptyCounts, meterRequests, meterS3 } from './request-meter';

const EVENTS = Number(process.env.BENCH_COST_EVENTS ?? 2_000);
const BATCHES = [1, 10, 100] as const;
const GROUPS = [1, 3] as const;
const M = 1_000_000;

interface Price {
  readonly usd: number;
  readonly per: number;
  readonly source: string;
}
interface PriceTable {
  readonly region: string;
  readonly asOf: string;
  readonly prices: Record<string, Price>;
  readonly assumptions: Record<string, unknown> & {
    apiMemoryGb: number;
    apiBilledMsByBatch: Record<string, number>;
    dispatcherMemoryGb: number;
    dispatcherBilledMs: number;
    streamRecordsPerDispatcherInvocation: number;
    delivererMemoryGb: number;
    delivererBilledMsPerBatch: number;
    deliveredBatchesPerDelivererInvocation: number;
    deliveryBatchEvents: number;
    deliveryCommitWritesPerBatch: number;
    kinesisStreamHoursPerMonth: number;
    kinesisMonthlyEvents: number;
    sqsRequestsPerEventConsumed: number;
  };
}

const table = JSON.parse(readFileSync(path.join(__dirname, 'prices.json'), 'utf8')) as PriceTable;
/** USD per one unit of `name`. */
const price = (name: string) => {
  const p = table.prices[name];
  if (!p) throw new Error(`bench/prices.json has no price "${name}"`);
  return p.usd / p.per;
};

/** What publishing and reading back one batch size cost in requests, per event. */
export interface Measured {
  readonly batch: number;
  readonly events: number;
  readonly segments: number;
  readonly publish: {
    readonly writeUnitsPerEvent: number;
    readonly writeRequestsPerEvent: number;
    readonly readUnitsPerEvent: number;
    readonly s3PutsPerEvent: number;
    readonly meanItemBytes: number;
    /** Bytes stored per event: log items in DynamoDB (plus the index's key copy) and objects in S3. */
    readonly dynamoBytesPerEvent: number;
    readonly s3BytesPerEvent: number;
  };
  readonly delivery: {
    /** Reads of 100 events, as the deliverer makes them: per event, for one group. */
    readonly readUnitsPerEvent: number;
    readonly queriesPerEvent: number;
    readonly s3GetsPerEvent: number;
  };
}

/** DynamoDB's per-item storage overhead (100 bytes) and a keys-only index copy (pk, sk, maxTs + 100). */
const ITEM_OVERHEAD = 100;
const INDEX_ITEM_BYTES = 100 + 2 + 10 + 2 + 8 + 5 + 8;

async function measure(
  env: Record<string, string>,
  names: Record<string, string>,
  batch: number,
): Promise<Measured> {
  const corpus = orderCorpus(EVENTS, 42);
  const clients = () => {
    const counts = emptyCounts();
    const s3Requests: Record<string, number> = {};
    const { dynamo: raw, s3 } = createEmulatorClients({
      dynamoEndpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
      s3Endpoint: env.AWS_ENDPOINT_URL_S3,
    });
    meterRequests(raw, counts);
    meterS3(s3, s3Requests);
    const dynamo = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const log = new Log({
      dynamo,
      s3,
      config: {
        logTable: names[logTable.envVar],
        bucket: names[segmentBucket.envVar],
        inlineThresholdBytes: 8 * 1024,
        headCacheMs: 5_000,
        appendAttempts: 8,
        segmentCodec: 'none',
      },
    });
    const close = () => {
      raw.destroy();
      s3.destroy();
    };
    return { log, counts, s3Requests, close };
  };
  const topic = `cost-b${batch}`;
  const writer = clients();
  for (let i = 0; i < corpus.length; i += batch) {
    const records = corpus.slice(i, i + batch).map((e) => ({
      timestamp: Date.now(),
      key: Buffer.from(e.key),
      value: e.value,
      json: true,
      headers: {},
    }));
    await writer.log.append(topic, 0, 24, records);
  }
  writer.close();
  const reader = clients();
  let offset = 0;
  for (;;) {
    const page = await reader.log.read(topic, 0, offset, table.assumptions.deliveryBatchEvents);
    if (page.records.length === 0) break;
    offset = page.nextOffset;
  }
  reader.close();
  const segments = writer.counts.putItemBytes.length;
  const s3Puts = writer.s3Requests.PutObject ?? 0;
  // Objects are uncompressed segments (default codec): the records' bytes and a few of framing each.
  const rawBytes = corpus.reduce((sum, e) => sum + e.value.length + e.key.length + 8, 0);
  const s3Bytes = (rawBytes * s3Puts) / Math.max(1, segments);
  const itemBytes = writer.counts.putItemBytes.reduce((s, b) => s + b, 0);
  const per = (n: number) => n / corpus.length;
  return {
    batch,
    events: corpus.length,
    segments,
    publish: {
      writeUnitsPerEvent: round(per(writer.counts.writeUnits), 4),
      writeRequestsPerEvent: round(per(writer.counts.writeRequests), 4),
      readUnitsPerEvent: round(per(writer.counts.readUnits), 4),
      s3PutsPerEvent: round(per(s3Puts), 4),
      meanItemBytes: Math.round(itemBytes / Math.max(1, segments)),
      dynamoBytesPerEvent: Math.round(per(itemBytes + segments * (ITEM_OVERHEAD + INDEX_ITEM_BYTES))),
      s3BytesPerEvent: Math.round(per(s3Bytes)),
    },
    delivery: {
      readUnitsPerEvent: round(per(reader.counts.readUnits), 4),
      queriesPerEvent: round(per(reader.counts.requests.Query ?? 0), 4),
      s3GetsPerEvent: round(per(reader.s3Requests.GetObject ?? 0), 4),
    },
  };
}

/** USD per million events, by line, for the bus. */
function busCost(m: Measured, groups: number): Record<string, number> {
  const a = table.assumptions;
  const requestsPerEvent = 1 / m.batch;
  const segmentsPerEvent = m.segments / m.events;
  const gbs = price('lambda.gbSecondArm64');
  const deliveryBatchesPerEvent = 1 / a.deliveryBatchEvents;
  const lines: Record<string, number> = {
    'publish: DynamoDB writes': m.publish.writeUnitsPerEvent * price('dynamodb.writeRequestUnit'),
    'publish: DynamoDB reads (head)': m.publish.readUnitsPerEvent * price('dynamodb.readRequestUnit'),
    'publish: S3 PUT': m.publish.s3PutsPerEvent * price('s3.put'),
    'publish: Lambda requests': requestsPerEvent * price('lambda.request'),
    'publish: Lambda duration':
      requestsPerEvent * (a.apiBilledMsByBatch[String(m.batch)] / 1000) * a.apiMemoryGb * gbs,
    'dispatcher: Lambda':
      (segmentsPerEvent / a.streamRecordsPerDispatcherInvocation) *
      (price('lambda.request') + (a.dispatcherBilledMs / 1000) * a.dispatcherMemoryGb * gbs),
    'delivery: DynamoDB reads': groups * m.delivery.readUnitsPerEvent * price('dynamodb.readRequestUnit'),
    'delivery: offset commits':
      groups * deliveryBatchesPerEvent * a.deliveryCommitWritesPerBatch * price('dynamodb.writeRequestUnit'),
    'delivery: S3 GET': groups * m.delivery.s3GetsPerEvent * price('s3.get'),
    'delivery: Lambda (deliverer)':
      groups *
      deliveryBatchesPerEvent *
      (price('lambda.request') / a.deliveredBatchesPerDelivererInvocation +
        (a.delivererBilledMsPerBatch / 1000) * a.delivererMemoryGb * gbs),
  };
  return Object.fromEntries(Object.entries(lines).map(([k, v]) => [k, v * M]));
}

/** USD per million ~1 KiB events on the alternatives, for `batch` events per API call and `groups` consumers. */
function alternatives(batch: number, groups: number, eventBytes: number): Record<string, number> {
  const a = table.assumptions;
  // SNS PublishBatch takes up to 10 messages and bills each 64 KB chunk of the request as one publish.
  const snsRequestsPerEvent =
    batch === 1 ? 1 : Math.ceil((Math.min(batch, 10) * eventBytes) / 65_536) / Math.min(batch, 10);
  const kb = Math.ceil(eventBytes / 1024);
  const gb = 1024 ** 3;
  return {
    EventBridge: price('eventbridge.customEvent') * M,
    'SNS + SQS':
      (snsRequestsPerEvent * price('sns.publish') +
        groups * (1 + a.sqsRequestsPerEventConsumed) * price('sqs.request')) *
      M,
    'Kinesis on-demand':
      ((a.kinesisStreamHoursPerMonth * price('kinesis.onDemandStreamHour')) / a.kinesisMonthlyEvents +
        ((kb * 1024) / gb) * price('kinesis.onDemandIngestGb') +
        groups * (eventBytes / gb) * price('kinesis.onDemandRetrievalGb')) *
      M,
  };
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

function usd(value: number): string {
  return value >= 0.1 ? `$${value.toFixed(2)}` : `$${value.toFixed(3)}`;
}

function render(measured: Measured[], eventBytes: number): string {
  const a = table.assumptions;
  const rows: string[] = [];
  const drivers = new Map<string, number>();
  for (const m of measured) {
    for (const g of GROUPS) {
      const lines = busCost(m, g);
      const total = Object.values(lines).reduce((s, v) => s + v, 0);
      const publishOnly = Object.entries(lines)
        .filter(([k]) => k.startsWith('publish') || k.startsWith('dispatcher'))
        .reduce((s, [, v]) => s + v, 0);
      const alt = alternatives(m.batch, g, eventBytes);
      rows.push(
        `| ${m.batch} | ${g} | ${usd(publishOnly)} | **${usd(total)}** | ${usd(alt.EventBridge)} | ${usd(alt['SNS + SQS'])} | ${usd(alt['Kinesis on-demand'])} |`,
      );
      for (const [k, v] of Object.entries(lines)) drivers.set(`${m.batch}/${g}/${k}`, v);
    }
  }
  const breakdown = measured.map((m) => {
    const lines = busCost(m, 1);
    return `| ${m.batch} | ${Object.entries(lines)
      .map(([, v]) => usd(v))
      .join(' | ')} |`;
  });
  const lineNames = Object.keys(busCost(measured[0], 1));
  const measuredRows = measured.map(
    (m) =>
      `| ${m.batch} | ${m.segments} | ${m.publish.meanItemBytes} | ${m.publish.writeUnitsPerEvent} | ${m.publish.s3PutsPerEvent} | ${m.publish.readUnitsPerEvent} | ${m.delivery.readUnitsPerEvent} | ${m.delivery.s3GetsPerEvent} | ${m.publish.dynamoBytesPerEvent} | ${m.publish.s3BytesPerEvent} |`,
  );
  const storage = measured.map((m) => {
    const dynamo = (m.publish.dynamoBytesPerEvent / eventBytes) * price('dynamodb.storageGbMonth');
    const s3 = (m.publish.s3BytesPerEvent / eventBytes) * price('s3.storageGbMonth');
    return `| ${m.batch} | ${usd(dynamo)} | ${usd(s3)} | ${usd(dynamo + s3)} |`;
  });
  const single = busCost(measured[0], 1);
  const singlePublish = Object.entries(single)
    .filter(([k]) => k.startsWith('publish') || k.startsWith('dispatcher'))
    .reduce((s, [, v]) => s + v, 0);
  const hundred = busCost(measured[measured.length - 1], 1);
  const hundredTotal = Object.values(hundred).reduce((s, v) => s + v, 0);
  const top = (lines: Record<string, number>) =>
    Object.entries(lines)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 3)
      .map(([k, v]) => `${k} ${usd(v)}`)
      .join(', ');
  const gbs = price('lambda.gbSecondArm64');
  const apiMsAt512 = singlePublish - single['publish: Lambda duration'] / 2;
  // The dispatcher's share shrinks with the records per stream batch (up to 100 under load).
  const dispatcherAt100 = single['dispatcher: Lambda'] * (a.streamRecordsPerDispatcherInvocation / 100);
  const bothLevers = apiMsAt512 - single['dispatcher: Lambda'] + dispatcherAt100;
  const floor = single['publish: DynamoDB writes'] + single['publish: Lambda requests'];
  return [
    '## Cost per million events (model)',
    '',
    `\`tsx bench/cost.ts\`: ${EVENTS.toLocaleString('en-US')} corpus events (\`bench/corpus.ts\`, mean ${eventBytes} bytes of JSON) published`,
    "through the bus's own `Log` to DynamoDB Local and s3rver in batches of 1, 10 and 100 (one appender, so no",
    'lost races: see the appenders section for those), then read back 100 at a time as a deliverer reads.',
    'Requests are counted by SDK middleware; write units by the item size rule; read units from the items',
    `read. Prices: \`bench/prices.json\` (${table.region}, as of ${table.asOf}).`,
    '',
    'Measured per batch size:',
    '',
    '| events/publish | segments | item bytes | write units/event | S3 PUT/event | head read units/event | delivery read units/event/group | S3 GET/event/group | DynamoDB bytes/event | S3 bytes/event |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...measuredRows,
    '',
    "USD per million events, published and delivered (the subscriber's own compute, which every option pays",
    'alike, left out):',
    '',
    '| events/publish | groups | bus: publish only | bus: published + delivered | EventBridge | SNS + SQS | Kinesis on-demand |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    "Where the bus's dollars go, one group:",
    '',
    `| events/publish | ${lineNames.join(' | ')} |`,
    `| --- | ${lineNames.map(() => '---').join(' | ')} |`,
    ...breakdown,
    '',
    'Storage per GB of events retained for a month (DynamoDB items incl. their 100-byte overhead and the',
    'keys-only index copy; S3 objects as written, uncompressed with the default codec):',
    '',
    '| events/publish | DynamoDB | S3 | total |',
    '| --- | --- | --- | --- |',
    ...storage,
    '',
    '### Against the goals',
    '',
    `- Single-event publish: **${usd(singlePublish)} per million** (goal ≤ $0.90): ${singlePublish <= 0.9 ? 'met' : 'NOT met'}.`,
    `  Biggest drivers: ${top(Object.fromEntries(Object.entries(single).filter(([k]) => k.startsWith('publish') || k.startsWith('dispatcher'))))}.`,
    `  The write unit is now one; the rest is Lambda. At 512 MB instead of the API function's ${a.apiMemoryGb * 1024} MB (same`,
    `  billed ms assumed) it would be ${usd(apiMsAt512)}; with also 100 stream records per dispatcher run (its batch`,
    `  size, reached under load) ${usd(bothLevers)}. The floor is one write unit plus one Lambda request: ${usd(floor)};`,
    `  every millisecond-GB of the API function adds $${(gbs * M * 1e-3).toFixed(4)} per million.`,
    `- Batches of 100, published and delivered to one group: **${usd(hundredTotal)} per million** (goal ≤ $0.08):`,
    `  ${hundredTotal <= 0.08 ? 'met' : 'NOT met'}. The S3 PUT alone is ${usd(hundred['publish: S3 PUT'])}: the design is`,
    `  ${usd(hundredTotal - hundred['publish: S3 PUT'])} above that floor. Biggest drivers: ${top(hundred)}.`,
    '  What would move it: several publish requests coalesced into one S3 segment (group commit already does',
    '  this within one process; 1,000 events per segment would make the PUT $0.005), or delivery batches larger',
    '  than 100 (commits and deliverer runs scale with batches).',
    '',
    'Assumptions (bench/prices.json): API function billed ' +
      Object.entries(a.apiBilledMsByBatch)
        .map(([b, ms]) => `${ms} ms for ${b}`)
        .join(', ') +
      ` events at ${a.apiMemoryGb * 1024} MB; dispatcher ${a.dispatcherBilledMs} ms at ${a.dispatcherMemoryGb * 1024} MB per ${a.streamRecordsPerDispatcherInvocation} stream records (its GetRecords are free); deliverer ${a.delivererBilledMsPerBatch} ms at ${a.delivererMemoryGb * 1024} MB per batch of ${a.deliveryBatchEvents}, ${a.deliveredBatchesPerDelivererInvocation} batches per invocation; one offset commit per batch (docs/benchmarks-delivery.md). Lambda at $${gbs} per GB-s (arm64).`,
    'EventBridge bills each event put ($1.00/M), whatever the number of rules; SNS bills each 64 KB of a publish',
    '(PublishBatch of up to 10), SQS each send (from SNS) plus about 0.2 requests per event to receive and delete in',
    `batches of 10; Kinesis on-demand rounds each record up to whole KB for ingest, bills retrieval per consumer,`,
    `plus the stream-hour spread over ${(a.kinesisMonthlyEvents / M).toLocaleString('en-US')} M events a month. Retention beyond 24 h (Kinesis) and`,
    'free tiers are left out.',
  ].join('\n');
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'eventbus-cost-'));
  const backends = await startLocalBackends({}, dataDir);
  try {
    const env = { ...backends.env } as Record<string, string>;
    const names = tableNames('benchcost') as Record<string, string>;
    const admin = createEmulatorClients(backends);
    await provision(admin, names);
    admin.dynamo.destroy();
    admin.s3.destroy();
    const measured: Measured[] = [];
    for (const batch of BATCHES) measured.push(await measure(env, names, batch));
    const corpus = orderCorpus(EVENTS, 42);
    const eventBytes = Math.round(corpus.reduce((s, e) => s + e.value.length, 0) / corpus.length);
    writeSection('cost', render(measured, eventBytes));
    const costs = measured.flatMap((m) =>
      GROUPS.map((g) => ({
        batch: m.batch,
        groups: g,
        bus: busCost(m, g),
        alternatives: alternatives(m.batch, g, eventBytes),
      })),
    );
    process.stdout.write(`${JSON.stringify({ prices: table, measured, costs }, null, 2)}\n`);
  } finally {
    await backends.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
