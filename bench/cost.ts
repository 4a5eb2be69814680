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
 * read units from the items read. The API handler itself publishes through
 * the emulators in this process too (bench/lambda-meter.ts): its CPU per
 * request, and the bytes of the log lines it writes (CloudWatch Logs bills
 * them), are measured. Prices and the assumptions that cannot be measured
 * locally (AWS round trips, stream batching, Lambda's own log lines) are in
 * bench/prices.json, each with its source. Prints JSON; writes the "cost"
 * section of docs/benchmarks.md.
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createEmulatorClients } from '../local/emulators';
import { Log } from '../shared/log/log';
import { IdempotentAppends } from '../shared/publish/idempotent-appends';
import { Publisher } from '../shared/publish/publisher';
import { apiFunction, logTable, registryTable, segmentBucket } from '../shared/topology';
import { orderCorpus } from './corpus';
import { writeSection } from './doc-sections';
import { withEmulators } from './emulators';
import {
  type ApiPublishMeasured,
  CPU_SLICES,
  measureApiPublish,
  measureDelivererLines,
} from './lambda-meter';
import { price, priceTable as table } from './prices';
import { emptyCounts, meterRequests, meterS3 } from './request-meter';

const EVENTS = Number(process.env.BENCH_COST_EVENTS ?? 2_000);
const BATCHES = [1, 10, 100] as const;
const GROUPS = [1, 3] as const;
const M = 1_000_000;
const GB = 1024 ** 3;
/** Lambda gives a function one vCPU at 1,769 MB, and CPU in proportion to memory below that. */
const MB_PER_VCPU = 1769;
/** Publish requests the API handler is timed over, after a warm-up, by batch size. */
const API_REQUESTS: Record<number, { requests: number; warmUp: number }> = {
  // Warm-ups long enough for the JIT to settle (a warm Lambda instance serves thousands of requests): after 300
  // single-event requests the CPU per request is still a third above where it settles.
  1: { requests: 1_500, warmUp: 4_000 },
  10: { requests: 300, warmUp: 800 },
  100: { requests: 60, warmUp: 150 },
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
  /** The API handler publishing requests of this batch size: CPU and log bytes per request. */
  readonly api: ApiPublishMeasured;
  /** Bytes the deliverer logs per run, for one group (its run line and EMF lines). */
  readonly delivererLogBytesPerRun: number;
}

/** DynamoDB's per-item storage overhead (100 bytes) and a keys-only index copy (pk, sk, maxTs + 100). */
const ITEM_OVERHEAD = 100;
const INDEX_ITEM_BYTES = 100 + 2 + 10 + 2 + 8 + 5 + 8;

/** A `Log` on clients of its own whose DynamoDB and S3 requests are counted, as one Lambda instance would count them. */
function meteredLog(env: Record<string, string>, names: Record<string, string>) {
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
  return { log, dynamo, counts, s3Requests, close };
}

async function measure(
  env: Record<string, string>,
  names: Record<string, string>,
  batch: number,
): Promise<Omit<Measured, 'api' | 'delivererLogBytesPerRun'>> {
  const corpus = orderCorpus(EVENTS, 42);
  const clients = () => meteredLog(env, names);
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

/** What an `Idempotency-Key` adds to a publish request of `batch` events: DynamoDB write and read units. */
interface IdempotencyMeasured {
  readonly batch: number;
  readonly requests: number;
  /** Extra per request, over the same request without a key (measured alike). */
  readonly extraWriteUnitsPerRequest: number;
  readonly extraWriteRequestsPerRequest: number;
  readonly extraReadUnitsPerRequest: number;
}

/**
 * Publishes the same events through the bus's `Publisher` with and without
 * an `Idempotency-Key` (a new key per request, as the client's `Producer`
 * sends one per batch), on metered clients: the difference is what the
 * key's binding, claim and completion cost (docs/adr/0006).
 */
async function measureIdempotency(
  env: Record<string, string>,
  names: Record<string, string>,
  batch: number,
): Promise<IdempotencyMeasured> {
  const requests = Math.max(20, Math.round(400 / batch));
  const corpus = orderCorpus(requests * batch, 43);
  const run = async (keyed: boolean) => {
    const { log, dynamo, counts, close } = meteredLog(env, names);
    const publisher = new Publisher(log, new IdempotentAppends(dynamo, names[registryTable.envVar], log));
    const topic = { name: `cost-idem-${keyed ? 'k' : 'n'}${batch}`, partitions: 1, retentionHours: 24 };
    for (let r = 0; r < requests; r++) {
      const events = corpus.slice(r * batch, (r + 1) * batch).map((e) => ({
        key: e.key,
        value: e.value,
        json: true,
        headers: {},
      }));
      const outcome = await publisher.publish(
        topic,
        events,
        keyed ? { idempotencyKey: `k-${r}`, scope: 'bench' } : {},
      );
      if (!outcome.complete) throw new Error('an idempotent publish of the cost bench failed');
    }
    close();
    return counts;
  };
  const plain = await run(false);
  const keyed = await run(true);
  const extra = (n: (c: typeof plain) => number) => round((n(keyed) - n(plain)) / requests, 3);
  return {
    batch,
    requests,
    extraWriteUnitsPerRequest: extra((c) => c.writeUnits),
    extraWriteRequestsPerRequest: extra((c) => c.writeRequests),
    extraReadUnitsPerRequest: extra((c) => c.readUnits),
  };
}

/** USD per byte ingested by CloudWatch Logs. */
const logByte = () => price('cloudwatch.logsIngestGb') / GB;

/**
 * Bytes one publish request writes to CloudWatch Logs as the construct deploys the API: its share of
 * the metrics line its instance flushes (measured at `apiRequestsPerMetricsFlush` requests per line) and
 * Lambda's own lines (none at system level WARN). With `accessLog`, also the access line.
 */
function publishLogBytes(m: Measured, options: { accessLog?: boolean; platformBytes?: number } = {}): number {
  return (
    (options.platformBytes ?? table.assumptions.platformLogBytesPerInvocation) +
    m.api.emfBytesPerRequest +
    (options.accessLog ? m.api.accessLogBytes : 0)
  );
}

/** USD per million events, by line, for the bus. */
function busCost(m: Measured, groups: number): Record<string, number> {
  const a = table.assumptions;
  const requestsPerEvent = 1 / m.batch;
  const segmentsPerEvent = m.segments / m.events;
  const gbs = price('lambda.gbSecondArm64');
  const deliveryBatchesPerEvent = 1 / a.deliveryBatchEvents;
  const eventsPerDelivererRun = a.deliveryBatchEvents * a.deliveredBatchesPerDelivererInvocation;
  const lines: Record<string, number> = {
    'publish: DynamoDB writes': m.publish.writeUnitsPerEvent * price('dynamodb.writeRequestUnit'),
    'publish: DynamoDB reads (head)': m.publish.readUnitsPerEvent * price('dynamodb.readRequestUnit'),
    'publish: S3 PUT': m.publish.s3PutsPerEvent * price('s3.put'),
    'publish: Lambda requests': requestsPerEvent * price('lambda.request'),
    'publish: Lambda duration':
      requestsPerEvent * (a.apiBilledMsByBatch[String(m.batch)] / 1000) * a.apiMemoryGb * gbs,
    'publish: CloudWatch Logs': requestsPerEvent * publishLogBytes(m) * logByte(),
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
    'delivery: CloudWatch Logs':
      (groups * (m.delivererLogBytesPerRun + a.platformLogBytesPerInvocation) * logByte()) /
      eventsPerDelivererRun,
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

/** Billed ms of an API request of `batch` events: its AWS round trips plus `cpuMs` stretched to `memoryMiB`'s share of a vCPU. */
function billedMs(batch: number, cpuMs: number, memoryMiB: number): number {
  return Math.ceil(
    table.assumptions.apiRoundTripMsByBatch[String(batch)] + (cpuMs * MB_PER_VCPU) / memoryMiB,
  );
}

/** The billed ms assumed must cover the round trips and the CPU recorded: a lower figure would flatter the model. */
function checkBilledMs(): void {
  const a = table.assumptions;
  if (a.apiMemoryGb * 1024 !== apiFunction.memoryMiB) {
    throw new Error(`bench/prices.json: apiMemoryGb is not the API function's ${apiFunction.memoryMiB} MB.`);
  }
  for (const batch of BATCHES) {
    const floor = billedMs(batch, a.apiCpuMsByBatch[String(batch)], a.apiMemoryGb * 1024);
    if (a.apiBilledMsByBatch[String(batch)] < floor) {
      throw new Error(
        `bench/prices.json: apiBilledMsByBatch[${batch}] is below its round trips plus the CPU recorded (${floor} ms).`,
      );
    }
  }
}

function render(
  measured: Measured[],
  brotli: ApiPublishMeasured,
  eventBytes: number,
  idempotency: IdempotencyMeasured[],
): string {
  const a = table.assumptions;
  const rows: string[] = [];
  const publishShare = (lines: Record<string, number>) =>
    Object.entries(lines)
      .filter(([k]) => k.startsWith('publish') || k.startsWith('dispatcher'))
      .reduce((s, [, v]) => s + v, 0);
  for (const m of measured) {
    for (const g of GROUPS) {
      const lines = busCost(m, g);
      const total = Object.values(lines).reduce((s, v) => s + v, 0);
      const alt = alternatives(m.batch, g, eventBytes);
      rows.push(
        `| ${m.batch} | ${g} | ${usd(publishShare(lines))} | **${usd(total)}** | ${usd(alt.EventBridge)} | ${usd(alt['SNS + SQS'])} | ${usd(alt['Kinesis on-demand'])} |`,
      );
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
  const memoryMiB = a.apiMemoryGb * 1024;
  const apiRows = [...measured.map((m) => m.api), brotli].map((api) => {
    const b = String(api.batch);
    const deployed = api.codec === 'none';
    return `| ${api.batch}${deployed ? '' : ` (${api.codec} codec)`} | ${api.requests} | ${api.cpuMsPerRequest} (${api.cpuMsRange.join('–')}) | ${deployed ? a.apiCpuMsByBatch[b] : '—'} | ${a.apiRoundTripMsByBatch[b]} | ${deployed ? a.apiBilledMsByBatch[b] : '—'} | ${billedMs(api.batch, api.cpuMsPerRequest, memoryMiB)} | ${api.accessLogBytes} | ${api.emfBytesPerRequest} |`;
  });
  const storage = measured.map((m) => {
    const dynamo = (m.publish.dynamoBytesPerEvent / eventBytes) * price('dynamodb.storageGbMonth');
    const s3 = (m.publish.s3BytesPerEvent / eventBytes) * price('s3.storageGbMonth');
    return `| ${m.batch} | ${usd(dynamo)} | ${usd(s3)} | ${usd(dynamo + s3)} |`;
  });
  const top = (lines: Record<string, number>) =>
    Object.entries(lines)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 3)
      .map(([k, v]) => `${k} ${usd(v)}`)
      .join(', ');
  const gbs = price('lambda.gbSecondArm64');
  const perGbMs = gbs * 1e-3 * M;

  // Single events: what each line of a publish comes to, and what is left to reach the goal.
  const one = measured[0];
  const single = busCost(one, 1);
  const singlePublish = publishShare(single);
  const fixed = single['publish: DynamoDB writes'] + single['publish: Lambda requests'];
  const cpuMs = a.apiCpuMsByBatch['1'];
  const waitMs = a.apiRoundTripMsByBatch['1'];
  const cpuGb = MB_PER_VCPU / 1024;
  const cpuPart = cpuMs * cpuGb * perGbMs;
  const waitPart = waitMs * a.apiMemoryGb * perGbMs;
  const durationAt = (mib: number) => billedMs(1, cpuMs, mib) * (mib / 1024) * perGbMs;
  const dispatcherAt100 = single['dispatcher: Lambda'] * (a.streamRecordsPerDispatcherInvocation / 100);
  // What the goal leaves once the write unit and the request are paid, and the CPU that would fit in it.
  const budget = 0.9 - fixed;
  const beforeCpu = single['dispatcher: Lambda'] + single['publish: CloudWatch Logs'] + waitPart;
  const cpuForGoal =
    (budget - dispatcherAt100 - single['publish: CloudWatch Logs'] - waitPart) / (cpuGb * perGbMs);

  // CloudWatch Logs per single-event publish: as deployed, and with Lambda's defaults and the access log.
  const perMillion = (bytes: number) => bytes * logByte() * M;
  const logsNow = publishLogBytes(one);
  const logsBefore = publishLogBytes(one, {
    accessLog: true,
    platformBytes: a.platformLogBytesPerInvocationText,
  });

  // As deployed before: 1024 MB, Lambda's text log format, every request logged.
  const singleBefore =
    fixed +
    durationAt(1024) +
    single['dispatcher: Lambda'] +
    perMillion(logsBefore) +
    single['publish: DynamoDB reads (head)'];

  const hundred = busCost(measured[measured.length - 1], 1);
  const hundredTotal = Object.values(hundred).reduce((s, v) => s + v, 0);

  // X-Ray, left out of the tables: traces sampled per request at the workload's request rate.
  const eventsPerSecond = a.kinesisMonthlyEvents / (730 * 3600);
  const xrayPerMillionEvents = (batch: number) => {
    const requests = eventsPerSecond / batch;
    const sampled = Math.min(
      requests,
      a.xraySampledPerSecond + a.xraySampledShare * Math.max(0, requests - 1),
    );
    return (sampled / requests / batch) * price('xray.traceRecorded') * M;
  };
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
    'The API handler itself (`createApiHandler`, as Lambda runs it) publishing the same kind of events in this',
    'process against the emulators (`bench/lambda-meter.ts`): its CPU per request, user + system, the median of',
    `${CPU_SLICES} slices and their range, on this 2-core machine shared with other work; the lines it writes to stdout,`,
    `captured. Billed ms at ${memoryMiB} MB = AWS round trips (assumed) + CPU × ${MB_PER_VCPU} / ${memoryMiB} (Lambda gives`,
    `one vCPU at ${MB_PER_VCPU} MB, and CPU in proportion to memory below it); the model uses the figures recorded in`,
    '`bench/prices.json`, and fails if they fall below what their own CPU implies.',
    '',
    `| events/publish | requests timed | CPU ms/request, this run | CPU ms recorded | AWS round trips ms | billed ms assumed | billed ms from this run's CPU | access log line bytes | EMF bytes/request (${a.apiRequestsPerMetricsFlush} requests per line) |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...apiRows,
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
    '### CloudWatch Logs',
    '',
    `Ingestion is $${price('cloudwatch.logsIngestGb').toFixed(2)} per GB, by the bytes of each line. As the construct deploys the functions (JSON log`,
    "format; Lambda's own lines at WARN, so its per-invocation `platform.start` and `platform.report` are not",
    "ingested; the application's at INFO, which the EMF lines need; the API's access log off), a publish writes only",
    `its share of the metrics line its instance flushes once a second: ${one.api.emfBytesPerRequest} bytes at ${a.apiRequestsPerMetricsFlush} requests a line,`,
    `${usd(perMillion(logsNow))} per million single-event publishes. An instance that sees one request in its second writes`,
    `the whole line, ${one.api.emfBytesAlone} bytes (${usd(perMillion(one.api.emfBytesAlone))} per million), as when traffic is sparse.`,
    `With \`accessLog: true\` each request adds its ${one.api.accessLogBytes}-byte line, ${usd(perMillion(one.api.accessLogBytes))} per million requests. With Lambda's`,
    `default text format and every request logged, as before, a single-event publish wrote ${Math.round(logsBefore)} bytes (START, END`,
    `and REPORT with its X-Ray line, ${a.platformLogBytesPerInvocationText} bytes; the access line; the metrics): ${usd(perMillion(logsBefore))} per million, more than the`,
    'Lambda request. The deliverer logs a line per run and EMF lines per batch delivered (measured: ' +
      `${one.delivererLogBytesPerRun} bytes per run of ${a.deliveredBatchesPerDelivererInvocation} batches); the dispatcher logs only failures.`,
    '',
    '### Against the goals',
    '',
    `- Single-event publish: **${usd(singlePublish)} per million** (goal ≤ $0.90): ${singlePublish <= 0.9 ? 'met' : 'NOT met'}.`,
    `  Biggest drivers: ${top(Object.fromEntries(Object.entries(single).filter(([k]) => k.startsWith('publish') || k.startsWith('dispatcher'))))}.`,
    `  The write unit and the Lambda request are fixed: ${usd(fixed)}. The API's duration, ${usd(single['publish: Lambda duration'])}, is`,
    `  ${waitMs} ms waiting on DynamoDB at ${memoryMiB} MB (${usd(waitPart)}) and ${cpuMs} ms of CPU (${usd(cpuPart)}), plus rounding up to the ms. The`,
    `  CPU costs that much at any size under ${MB_PER_VCPU} MB: less memory stretches its milliseconds as much as it`,
    `  cheapens them. At 256 MB the duration would be ${usd(durationAt(256))} (batches of 100 and cold starts twice as slow),`,
    `  at 1024 MB ${usd(durationAt(1024))}. The dispatcher adds ${usd(single['dispatcher: Lambda'])} (${a.streamRecordsPerDispatcherInvocation} stream records per run; ${usd(dispatcherAt100)} at 100,`,
    `  its batch size, reached under heavy load), CloudWatch Logs ${usd(single['publish: CloudWatch Logs'])}.${
      singlePublish <= 0.9
        ? ''
        : ` The goal leaves ${usd(budget)} for all but the write unit and the request; the dispatcher, the logs and the wait on DynamoDB take ${usd(beforeCpu)} of it before any CPU. Meeting it would take the dispatcher at 100 records per run (a batching window on its trigger, which delays delivery as long) and ${
            cpuForGoal > 0
              ? `the API's CPU per publish under ${cpuForGoal.toFixed(1)} ms, from ${cpuMs} (where it goes: \`bench/prices.json\`, apiCpuSource)`
              : 'more: even without any CPU the API would not fit'
          }: no memory size or log setting gets there.`
    }`,
    `  Every ms-GB of the API function adds $${perGbMs.toFixed(4)} per million. With the construct's earlier settings (1024 MB,`,
    `  Lambda's text log format, every request logged) the same model gives ${usd(singleBefore)}.`,
    `  These figures are for a calm partition. On a crowded one (many instances publishing to it at once, a reserved`,
    `  epoch: docs/adr/0011) each publish also updates the offset counter, one more write unit: ${usd(price('dynamodb.writeRequestUnit') * M)} per`,
    '  million publishes more (bench/appenders.ts measures about 2 write requests per event there).',
    ...idempotency.map(
      (m) =>
        `  With an \`Idempotency-Key\` (docs/adr/0006), a request of ${m.batch} event${m.batch === 1 ? '' : 's'} also writes ${m.extraWriteRequestsPerRequest} items (${m.extraWriteUnitsPerRequest} write units: the key's binding, the claim, its completion) and reads ${m.extraReadUnitsPerRequest} units more (measured over ${m.requests} requests): ${usd(((m.extraWriteUnitsPerRequest * price('dynamodb.writeRequestUnit') + m.extraReadUnitsPerRequest * price('dynamodb.readRequestUnit')) * M) / m.batch)} per million events more.`,
    ),
    "  The client's `Producer` sends one key per batch, so batching spreads it.",
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
      ` events at ${memoryMiB} MB; dispatcher ${a.dispatcherBilledMs} ms at ${a.dispatcherMemoryGb * 1024} MB per ${a.streamRecordsPerDispatcherInvocation} stream records (its GetRecords are free); deliverer ${a.delivererBilledMsPerBatch} ms at ${a.delivererMemoryGb * 1024} MB per batch of ${a.deliveryBatchEvents}, ${a.deliveredBatchesPerDelivererInvocation} batches per invocation; one offset commit per batch (docs/benchmarks-delivery.md). Lambda at $${gbs} per GB-s (arm64).`,
    'EventBridge bills each event put ($1.00/M), whatever the number of rules; SNS bills each 64 KB of a publish',
    '(PublishBatch of up to 10), SQS each send (from SNS) plus about 0.2 requests per event to receive and delete in',
    `batches of 10; Kinesis on-demand rounds each record up to whole KB for ingest, bills retrieval per consumer,`,
    `plus the stream-hour spread over ${(a.kinesisMonthlyEvents / M).toLocaleString('en-US')} M events a month. Retention beyond 24 h (Kinesis) and`,
    'free tiers are left out.',
    '',
    `Left out of the bus's figures: X-Ray. By default the construct traces the dispatcher, deliverer and sweeper (a few`,
    'invocations per many events) and lets the API pass tracing through (only requests whose caller sent a sampled trace',
    `header). Traced actively (\`tracing: Tracing.ACTIVE\`), at $${(price('xray.traceRecorded') * M).toFixed(2)} per million traces and`,
    `Lambda's default sampling (${a.xraySampledPerSecond} a second, then ${a.xraySampledShare * 100} %), at ${(a.kinesisMonthlyEvents / M).toLocaleString('en-US')} M events a month (${Math.round(eventsPerSecond)} a second) the API's traces alone`,
    `would add about ${usd(xrayPerMillionEvents(1))} per million single-event publishes and ${usd(xrayPerMillionEvents(100))} per million events in batches of 100 (its few`,
    'requests are nearly all sampled); `tracing: Tracing.DISABLED` turns it off everywhere. Also',
    `CloudWatch Logs storage ($0.03 per GB-month; 30 days by default) and the Lambda runtime's own per-invocation work.`,
  ].join('\n');
}

async function main(): Promise<void> {
  await withEmulators('benchcost', async ({ env, names }) => {
    checkBilledMs();
    const a = table.assumptions;
    const delivererLogBytesPerRun = await measureDelivererLines(
      a.deliveredBatchesPerDelivererInvocation,
      a.deliveryBatchEvents,
    );
    const apiOptions = (batch: number) => ({
      env: { ...env, ...names },
      batch,
      ...API_REQUESTS[batch],
      requestsPerFlush: a.apiRequestsPerMetricsFlush,
    });
    const measured: Measured[] = [];
    for (const batch of BATCHES) {
      const log = await measure(env, names, batch);
      const api = await measureApiPublish(apiOptions(batch));
      measured.push({ ...log, api, delivererLogBytesPerRun });
    }
    // Batches of 100 with every segment compressed: the most CPU a publish of that size asks for.
    const brotli = await measureApiPublish({ ...apiOptions(100), codec: 'brotli' });
    const idempotency = [await measureIdempotency(env, names, 1), await measureIdempotency(env, names, 100)];
    const corpus = orderCorpus(EVENTS, 42);
    const eventBytes = Math.round(corpus.reduce((s, e) => s + e.value.length, 0) / corpus.length);
    writeSection('cost', render(measured, brotli, eventBytes, idempotency));
    const costs = measured.flatMap((m) =>
      GROUPS.map((g) => ({
        batch: m.batch,
        groups: g,
        bus: busCost(m, g),
        alternatives: alternatives(m.batch, g, eventBytes),
      })),
    );
    process.stdout.write(
      `${JSON.stringify({ prices: table, measured, brotli, idempotency, costs }, null, 2)}\n`,
    );
  });
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
