/**
 * `npm run bench` (second part): delivery as `npm start` runs it — end-to-end
 * latency from publish to webhook receipt, delivery throughput per group for
 * one and three groups, and the AWS requests each 1,000 delivered events
 * cost. Prints one JSON object on stdout and rewrites docs/benchmarks-delivery.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BusProcess, sleep } from './bus-process';
import { percentile, send } from './load';

const ROOT = path.resolve(__dirname, '..');
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const auth = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
const VALUE_BYTES = 1024;
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 15);
const LATENCY_RATE = Number(process.env.BENCH_LATENCY_RATE ?? 50);
const BACKLOG_EVENTS = Number(process.env.BENCH_BACKLOG_EVENTS ?? 40_000);
const PARTITIONS = 4;
const DRAIN_TIMEOUT_MS = 10 * 60_000;
/** Events in the backlog are `{"id": 0..99, …}` in turn: this filter wants 1 % of them. */
const ONE_PERCENT_FILTER = { value: { id: [7] } };
/** A transform as users write them: an envelope around the value, as large as the event it reshapes. */
const TRANSFORM = '{"orderId": key, "at": timestamp, "id": value.id, "order": value}';

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** Every event a webhook receives, by group: when it arrived, and how often. */
class Receiver {
  readonly url: string;
  /** `<group>/<partition>/<offset>` → first arrival (ms). */
  readonly arrivals = new Map<string, number>();
  readonly received = new Map<string, number>();
  readonly batches = new Map<string, number>();

  private constructor(private readonly server: Server) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  }

  static async start(): Promise<Receiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const receiver = new Receiver(server);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const at = Date.now();
        const batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          group: string;
          partition: number;
          events: { offset: number }[];
        };
        receiver.batches.set(batch.group, (receiver.batches.get(batch.group) ?? 0) + 1);
        for (const event of batch.events) {
          const id = `${batch.group}/${batch.partition}/${event.offset}`;
          if (!receiver.arrivals.has(id)) receiver.arrivals.set(id, at);
          receiver.received.set(batch.group, (receiver.received.get(batch.group) ?? 0) + 1);
        }
        response.writeHead(204).end();
      });
    });
    return receiver;
  }

  distinct(group: string): number {
    let count = 0;
    for (const id of this.arrivals.keys()) if (id.startsWith(`${group}/`)) count++;
    return count;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function value(seed: number): string {
  return JSON.stringify({ id: seed, pad: 'x'.repeat(VALUE_BYTES - 30) });
}

function perThousand(counts: Record<string, number>, events: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts)
      .filter(([, n]) => n > 0)
      .map(([operation, n]) => [operation, Math.round((n / events) * 1000 * 10) / 10]),
  );
}

function diff(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Other work on the machine stretches every figure here: its load is written beside them.
  const loadAtStart = os.loadavg()[0];
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'eventbus-bench-delivery-'));
  const statsFile = path.join(dataDir, 'request-stats.json');
  const receiver = await Receiver.start();
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  let bus: BusProcess | undefined;
  try {
    bus = await BusProcess.start({ root: ROOT, dataDir, adminKey: ADMIN_KEY, statsFile });
    const url = bus.url;
    const call = async (method: string, route: string, body?: unknown) => {
      const answer = await send(
        agent,
        method,
        url + route,
        auth,
        body ? Buffer.from(JSON.stringify(body)) : undefined,
      );
      if (answer.status >= 300) throw new Error(`${method} ${route}: ${answer.status} ${answer.body}`);
      return answer.body ? JSON.parse(answer.body) : undefined;
    };
    const subscribe = (group: string, topic: string, startFrom: string, routing: Routing = {}) =>
      call('PUT', `/subscriptions/${group}`, {
        topic,
        target: { type: 'webhook', url: receiver.url },
        batchSize: 100,
        startFrom,
        ...routing,
      });

    // 1. Latency: single events at a steady rate, publish sent → webhook received.
    log(`latency: ${LATENCY_RATE} single events/s for ${LATENCY_SECONDS} s`);
    await call('PUT', '/topics/latency', { partitions: PARTITIONS, retentionHours: 24 });
    await subscribe('latency-group', 'latency', 'latest');
    const sentAt = new Map<string, number>();
    const warmupEnds = Date.now() + 3_000;
    const ends = warmupEnds + LATENCY_SECONDS * 1000;
    const inFlight: Promise<void>[] = [];
    for (let n = 0; Date.now() < ends; n++) {
      const due = Date.now() - (Date.now() % 1) + 1000 / LATENCY_RATE;
      const started = Date.now();
      const measured = started >= warmupEnds;
      inFlight.push(
        send(
          agent,
          'POST',
          `${url}/topics/latency/events`,
          auth,
          Buffer.from(`{"events":[{"key":"k${n}","value":${value(n)}}]}`),
        ).then((answer) => {
          if (answer.status !== 200) throw new Error(`publish: ${answer.status} ${answer.body}`);
          const [result] = JSON.parse(answer.body).results as { partition: number; offset: number }[];
          if (measured) sentAt.set(`latency-group/${result.partition}/${result.offset}`, started);
        }),
      );
      await sleep(Math.max(0, due - Date.now()));
    }
    await Promise.all(inFlight);
    const settle = Date.now() + 10_000;
    while ([...sentAt.keys()].some((id) => !receiver.arrivals.has(id)) && Date.now() < settle)
      await sleep(50);
    const latencies = Float64Array.from(
      [...sentAt]
        .filter(([id]) => receiver.arrivals.has(id))
        .map(([id, at]) => (receiver.arrivals.get(id) as number) - at),
    ).sort();
    const latency = {
      events: sentAt.size,
      received: latencies.length,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies[latencies.length - 1],
    };
    log(`latency: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms (${latency.received}/${latency.events})`);

    // 2. Throughput: a backlog in batches of 100, drained by 1 group, then by 3 groups at once.
    log(`throughput: publishing a backlog of ${BACKLOG_EVENTS} events in batches of 100`);
    await call('PUT', '/topics/backlog', { partitions: PARTITIONS, retentionHours: 24 });
    const batchBody = (n: number) =>
      Buffer.from(
        `{"events":[${Array.from({ length: 100 }, (_, i) => `{"key":"k${n * 100 + i}","value":${value(i)}}`).join(',')}]}`,
      );
    let published = 0;
    const publisher = async () => {
      while (published < BACKLOG_EVENTS) {
        const n = published / 100;
        published += 100;
        const answer = await send(agent, 'POST', `${url}/topics/backlog/events`, auth, batchBody(n));
        if (answer.status !== 200) throw new Error(`publish: ${answer.status} ${answer.body}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, publisher));
    await sleep(2_000);

    /**
     * Subscribes `groups` from the earliest event and waits until each received `expected` distinct
     * events: the whole backlog, or what a filter lets through. A filtered group's last match lies
     * within its last page (a filtered page is 1,000 events), so its time is the backlog read whole.
     */
    const drain = async (groups: string[], routing: Routing = {}, expected = BACKLOG_EVENTS) => {
      const before = await (bus as BusProcess).requestCounts();
      const started = Date.now();
      await Promise.all(groups.map((group) => subscribe(group, 'backlog', 'earliest', routing)));
      const finished = new Map<string, number>();
      while (finished.size < groups.length && Date.now() - started < DRAIN_TIMEOUT_MS) {
        for (const group of groups) {
          if (!finished.has(group) && receiver.distinct(group) >= expected) finished.set(group, Date.now());
        }
        await sleep(20);
      }
      const after = await (bus as BusProcess).requestCounts();
      const delivered = groups.reduce((sum, group) => sum + receiver.distinct(group), 0);
      // Filtered-out events are committed past: every group must have read to the end.
      for (const group of groups) {
        const { partitions } = (await call('GET', `/subscriptions/${group}`)) as {
          partitions: { lag: number }[];
        };
        const lag = partitions.reduce((sum, p) => sum + p.lag, 0);
        if (lag !== 0) throw new Error(`${group}: lag ${lag} after its last expected event`);
      }
      const requests = diff(before, after);
      return {
        groups: groups.length,
        perGroupEventsPerSecond: groups.map((group) =>
          Math.round(BACKLOG_EVENTS / (((finished.get(group) ?? Date.now()) - started) / 1000)),
        ),
        delivered,
        redelivered: groups.reduce(
          (sum, g) => sum + (receiver.received.get(g) ?? 0) - receiver.distinct(g),
          0,
        ),
        batches: groups.reduce((sum, g) => sum + (receiver.batches.get(g) ?? 0), 0),
        requestsPer1000Delivered: perThousand(requests, delivered),
        requestsPer1000Source: perThousand(requests, BACKLOG_EVENTS * groups.length),
      };
    };
    log('throughput: 1 group');
    const one = await drain(['one']);
    log(`1 group: ${one.perGroupEventsPerSecond.join(', ')} events/s`);
    log('routing: a filter matching 1 %');
    const filtered = await drain(['filtered'], { filter: ONE_PERCENT_FILTER }, BACKLOG_EVENTS / 100);
    log(`filter 1 %: ${filtered.perGroupEventsPerSecond.join(', ')} source events/s`);
    log('routing: a JSONata transform');
    const transformed = await drain(['transformed'], { transform: { jsonata: TRANSFORM } });
    log(`transform: ${transformed.perGroupEventsPerSecond.join(', ')} events/s`);
    log('throughput: 3 groups');
    const three = await drain(['three-a', 'three-b', 'three-c']);
    log(`3 groups: ${three.perGroupEventsPerSecond.join(', ')} events/s`);

    const summary = {
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        node: process.version,
        loadAverage: [loadAtStart, os.loadavg()[0]].map((load) => Math.round(load * 10) / 10),
      },
      latency: { ...latency, ratePerSecond: LATENCY_RATE, targets: { p50Ms: 100, p99Ms: 500 } },
      throughput: {
        backlogEvents: BACKLOG_EVENTS,
        partitions: PARTITIONS,
        one,
        three,
        targetPerGroup: 10_000,
      },
      routing: { filter: ONE_PERCENT_FILTER, transform: TRANSFORM, unfiltered: one, filtered, transformed },
    };
    console.log(JSON.stringify(summary, null, 2));
    writeFileSync(path.join(ROOT, 'docs', 'benchmarks-delivery.md'), renderDelivery(summary));
  } finally {
    await bus?.stop();
    await receiver.close();
    agent.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A subscription's routing fields, as `PUT /subscriptions/{group}` takes them. */
interface Routing {
  readonly filter?: Record<string, unknown>;
  readonly transform?: { readonly jsonata: string };
}

interface DrainResult {
  perGroupEventsPerSecond: number[];
  delivered: number;
  batches: number;
  redelivered: number;
  requestsPer1000Delivered: Record<string, number>;
  requestsPer1000Source: Record<string, number>;
}

/** DynamoDB requests (all operations) per 1,000 source events. */
function dynamoPerThousand(counts: Record<string, number>): number {
  const sum = Object.entries(counts)
    .filter(([operation]) => operation.startsWith('DynamoDB.'))
    .reduce((total, [, n]) => total + n, 0);
  return Math.round(sum * 10) / 10;
}

function renderDelivery(summary: {
  date: string;
  machine: { cpus: number; node: string; loadAverage: number[] };
  latency: Record<string, unknown> & { p50Ms?: number; p99Ms?: number };
  throughput: {
    backlogEvents: number;
    partitions: number;
    one: DrainResult;
    three: DrainResult;
  };
  routing: {
    filter: Record<string, unknown>;
    transform: string;
    unfiltered: DrainResult;
    filtered: DrainResult;
    transformed: DrainResult;
  };
}): string {
  const { latency, throughput, routing } = summary;
  const [unfilteredRate] = routing.unfiltered.perGroupEventsPerSecond;
  const routingRow = (name: string, result: DrainResult, goal: string) => {
    const [rate] = result.perGroupEventsPerSecond;
    const share = Math.round((rate / unfilteredRate) * 100);
    return `| ${name} | ${rate} | ${share} % | ${result.delivered} | ${dynamoPerThousand(result.requestsPer1000Source)} | ${result.requestsPer1000Source['S3.GetObject'] ?? 0} | ${goal} |`;
  };
  const operations = [
    ...new Set(
      [routing.unfiltered, routing.filtered, routing.transformed].flatMap((r) =>
        Object.keys(r.requestsPer1000Source),
      ),
    ),
  ].sort();
  const rows = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([operation, n]) => `| ${operation} | ${n} |`)
      .join('\n');
  return `# Delivery benchmark

Written by \`npm run bench\` (bench/delivery.ts) on ${summary.date}: the bus as \`npm start\` runs it
(DynamoDB Local, s3rver, the dispatcher on the stream poller, deliverer runs), a webhook receiver on
loopback in the benchmark's process, ${summary.machine.cpus} cores, Node ${summary.machine.node}; the machine's
1-minute load average was ${summary.machine.loadAverage.join(' at the start and ')} at the end (above the core
count, other work was running: compare rows of one run only).

## End-to-end latency: publish → webhook receipt

${LATENCY_RATE} single 1 KiB events per second with keys over ${PARTITIONS} partitions, one group,
${LATENCY_SECONDS} s measured after 3 s of warm-up; from the publish request's start to the webhook's
receipt (so it includes the publish's own acknowledgement).

| events | received | p50 | p99 | max | target |
| --- | --- | --- | --- | --- | --- |
| ${latency.events} | ${latency.received} | ${latency.p50Ms} ms | ${latency.p99Ms} ms | ${latency.maxMs} ms | p50 < 100 ms, p99 < 500 ms |

## Throughput per group

A backlog of ${throughput.backlogEvents} 1 KiB events published in batches of 100 (segments in S3),
over ${throughput.partitions} partitions, then subscribed with \`startFrom: earliest\`, \`batchSize: 100\`.

| groups | events/s per group | webhook batches | redelivered | target |
| --- | --- | --- | --- | --- |
| 1 | ${throughput.one.perGroupEventsPerSecond.join(', ')} | ${throughput.one.batches} | ${throughput.one.redelivered} | ≥ 10,000 |
| 3 (at once) | ${throughput.three.perGroupEventsPerSecond.join(', ')} | ${throughput.three.batches} | ${throughput.three.redelivered} | ≥ 10,000 |

## AWS requests per 1,000 delivered events

One group:

| operation | per 1,000 events |
| --- | --- |
${rows(throughput.one.requestsPer1000Delivered)}

Three groups at once:

| operation | per 1,000 events |
| --- | --- |
${rows(throughput.three.requestsPer1000Delivered)}

At 100 events per batch, "one DynamoDB write per delivered batch" is 10 \`UpdateItem\` per 1,000
events; "one S3 GET per S3 segment per group" is 10 \`GetObject\` per 1,000 events per group.

## Routing: a filter and a transform on the same backlog

The same backlog, one group at a time, measured in the same run as the one-group row above (the
machine is shared, so compare rows of one run only). Source events per second: the backlog's
${throughput.backlogEvents} events over the time from subscribing to the group's last expected event;
the filtered group must then show lag 0 (it committed past every event it left out). Requests per
1,000 **source** events (events in the backlog, delivered or not).

- filter: \`${JSON.stringify(routing.filter)}\` — the backlog's values carry \`id\` 0 to 99 in turn, so 1 %
  match;
- transform: \`${routing.transform}\`.

| subscription | source events/s | of unfiltered | delivered | DynamoDB requests per 1,000 source events | S3 GETs per 1,000 | goal |
| --- | --- | --- | --- | --- | --- | --- |
${routingRow('unfiltered', routing.unfiltered, '—')}
${routingRow('filter, 1 % match', routing.filtered, 'reads at least as fast as unfiltered delivers (≥ 100 %)')}
${routingRow('JSONata transform', routing.transformed, 'costs < 20 % (≥ 80 %)')}

By operation, per 1,000 source events:

| operation | unfiltered | filter 1 % | transform |
| --- | --- | --- | --- |
${operations
  .map(
    (operation) =>
      `| ${operation} | ${[routing.unfiltered, routing.filtered, routing.transformed].map((r) => r.requestsPer1000Source[operation] ?? 0).join(' | ')} |`,
  )
  .join('\n')}
`;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
