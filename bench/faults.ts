/**
 * `npm run bench` (last part): delivery under two faults, with the bus as
 * `npm start` runs it and a webhook on loopback in this process.
 *
 * - Throttle pace: a webhook answers `429` with `Retry-After: 1` to its first
 *   requests. Requests per second seen while it throttles, against the one per
 *   second it allows.
 * - Takeover: the bus is killed with SIGKILL while the webhook holds a batch,
 *   and restarted on the same data. Time from the kill to the next delivery of
 *   that partition (goal ≤ 15 s), and how much of it the restart itself took.
 * - Takeover, AWS-shaped: the delivery roles in this process on fresh
 *   emulators, the sweep once a minute as on AWS, lease wakes on (local
 *   mode's delay queue), no further appends. A deliverer holding a batch lives
 *   15 s (so its first wake finds the lease renewed and arms it again), then
 *   dies as a Lambda does: no heartbeat, no commit. Time from its death to the
 *   next delivery, and the lease wakes armed.
 *
 * Prints a JSON object per measurement on stdout and writes the `faults` and
 * `faults-aws-takeover` sections of docs/benchmarks.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createDispatcherHandler } from '../functions/dispatcher/handler';
import { LocalDelayQueue } from '../local/delay-queue';
import { createBusCore, createDelivererRole, createDispatcherRole } from '../shared/bus';
import { DeadLetters } from '../shared/delivery/dead-letters';
import type { DelayedWaker } from '../shared/delivery/delayed-waker';
import { Deliverer } from '../shared/delivery/deliverer';
import { type Heartbeat, timerHeartbeat } from '../shared/delivery/heartbeat';
import type { DeliveryOutcome } from '../shared/delivery/targets/target';
import type { Waker } from '../shared/delivery/waker';
import { deliverySweepSchedule } from '../shared/topology';
import { BusProcess, sleep } from './bus-process';
import { writeSection } from './doc-sections';
import { withEmulators } from './emulators';
import { send } from './load';

const ROOT = path.resolve(__dirname, '..');
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const auth = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
const RETRY_AFTER_SECONDS = 1;
const THROTTLED_REQUESTS = Number(process.env.BENCH_THROTTLED_REQUESTS ?? 6);
const THROTTLE_EVENTS = 10;
const TAKEOVER_GOAL_MS = 15_000;
/** A takeover not seen by then is reported as "more than" this. */
const TAKEOVER_CAP_MS = Number(process.env.BENCH_TAKEOVER_CAP_MS ?? 90_000);

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

interface Request {
  readonly at: number;
  readonly group: string;
  readonly partition: number;
  readonly offsets: number[];
}

/** A webhook whose answer per request is decided by `answer`; it records every request it gets. */
class FaultyWebhook {
  readonly url: string;
  readonly requests: Request[] = [];
  answer: (request: Request, nth: number) => 'ok' | 'throttle' | 'hold' = () => 'ok';

  private constructor(private readonly server: Server) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  }

  static async start(): Promise<FaultyWebhook> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const webhook = new FaultyWebhook(server);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          group: string;
          partition: number;
          events: { offset: number }[];
        };
        const seen: Request = {
          at: Date.now(),
          group: batch.group,
          partition: batch.partition,
          offsets: batch.events.map((e) => e.offset),
        };
        webhook.requests.push(seen);
        const nth = webhook.requests.filter((r) => r.group === seen.group).length;
        const answer = webhook.answer(seen, nth);
        if (answer === 'throttle')
          response.writeHead(429, { 'retry-after': String(RETRY_AFTER_SECONDS) }).end('slow down');
        else if (answer === 'ok') response.writeHead(204).end();
        // 'hold': no answer; the bus's end closes the socket.
      });
    });
    return webhook;
  }

  of(group: string): Request[] {
    return this.requests.filter((r) => r.group === group);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  await measureAwsShapedTakeover();
  // `BENCH_FAULTS=aws-takeover` measures only that (its own section of docs/benchmarks.md).
  if (process.env.BENCH_FAULTS === 'aws-takeover') return;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'eventbus-bench-faults-'));
  const statsFile = path.join(dataDir, 'request-stats.json');
  const webhook = await FaultyWebhook.start();
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  let bus: BusProcess | undefined;
  const start = () => BusProcess.start({ root: ROOT, dataDir, adminKey: ADMIN_KEY, statsFile });
  try {
    bus = await start();
    const call = async (method: string, route: string, body?: unknown) => {
      const answer = await send(
        agent,
        method,
        (bus as BusProcess).url + route,
        auth,
        body ? Buffer.from(JSON.stringify(body)) : undefined,
      );
      if (answer.status >= 300) throw new Error(`${method} ${route}: ${answer.status} ${answer.body}`);
      return answer.body ? JSON.parse(answer.body) : undefined;
    };
    const subscribe = async (group: string, topic: string) => {
      await call('PUT', `/topics/${topic}`, { partitions: 1, retentionHours: 24 });
      await call('PUT', `/subscriptions/${group}`, {
        topic,
        target: { type: 'webhook', url: webhook.url },
        batchSize: THROTTLE_EVENTS,
        startFrom: 'earliest',
        timeoutSeconds: 5,
      });
    };

    // 1. A throttling target: 429 with Retry-After: 1 to its first requests, then 204.
    log(`throttle: ${THROTTLED_REQUESTS} answers of 429 Retry-After: ${RETRY_AFTER_SECONDS}`);
    webhook.answer = (request, nth) =>
      request.group === 'throttled' && nth <= THROTTLED_REQUESTS ? 'throttle' : 'ok';
    await subscribe('throttled', 'throttle');
    await call('POST', '/topics/throttle/events', {
      events: Array.from({ length: THROTTLE_EVENTS }, (_, n) => ({ value: { n } })),
    });
    await until(() => webhook.of('throttled').length > THROTTLED_REQUESTS, 60_000);
    const throttled = webhook.of('throttled').slice(0, THROTTLED_REQUESTS + 1);
    const gaps = throttled.slice(1).map((r, i) => r.at - throttled[i].at);
    const spanSeconds = (throttled[throttled.length - 1].at - throttled[0].at) / 1000;
    const throttle = {
      throttledRequests: THROTTLED_REQUESTS,
      retryAfterSeconds: RETRY_AFTER_SECONDS,
      requestsPerSecondSeen: spanSeconds > 0 ? Math.round((gaps.length / spanSeconds) * 100) / 100 : null,
      requestsPerSecondAllowed: 1 / RETRY_AFTER_SECONDS,
      minGapMs: Math.min(...gaps),
      gapsMs: gaps,
      batchSizes: throttled.map((r) => r.offsets.length),
    };
    log(
      `throttle: ${throttle.requestsPerSecondSeen} requests/s seen, ${throttle.requestsPerSecondAllowed} allowed; gaps ${gaps.join(', ')} ms`,
    );

    // 2. Takeover: SIGKILL while the target holds a batch, restart on the same data.
    log('takeover: killing the bus while the target holds a batch');
    webhook.answer = (request, nth) => (request.group === 'takeover' && nth === 1 ? 'hold' : 'ok');
    await subscribe('takeover', 'takeover');
    await call('POST', '/topics/takeover/events', { events: [{ value: { n: 0 } }] });
    await until(() => webhook.of('takeover').length >= 1, 30_000);
    await sleep(200);
    const killedAt = Date.now();
    await bus.kill();
    bus = await start();
    const restartMs = Date.now() - killedAt;
    const resumed = await until(() => webhook.of('takeover').length >= 2, TAKEOVER_CAP_MS - restartMs);
    const takeoverMs = resumed ? webhook.of('takeover')[1].at - killedAt : undefined;
    const takeover = {
      goalMs: TAKEOVER_GOAL_MS,
      takeoverMs: takeoverMs ?? null,
      capMs: TAKEOVER_CAP_MS,
      restartMs,
      afterRestartMs: takeoverMs === undefined ? null : takeoverMs - restartMs,
    };
    log(
      takeoverMs === undefined
        ? `takeover: no delivery within ${TAKEOVER_CAP_MS} ms of the kill (restart took ${restartMs} ms)`
        : `takeover: ${takeoverMs} ms from the kill to the next delivery (restart took ${restartMs} ms)`,
    );

    const summary = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, node: process.version },
      throttle,
      takeover,
    };
    console.log(JSON.stringify(summary, null, 2));
    writeSection('faults', renderFaults(summary));
  } finally {
    await bus?.stop();
    await webhook.close();
    agent.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The AWS-shaped takeover, printed and written to its section of docs/benchmarks.md. */
async function measureAwsShapedTakeover(): Promise<void> {
  const webhook = await FaultyWebhook.start();
  try {
    const awsTakeover = await awsShapedTakeover(webhook);
    log(
      awsTakeover.takeoverMs === null
        ? `takeover (AWS-shaped): no delivery within ${TAKEOVER_CAP_MS} ms of the death`
        : `takeover (AWS-shaped): ${awsTakeover.takeoverMs} ms from the death to the next delivery; ${awsTakeover.wakesArmed} lease wakes armed`,
    );
    const summary = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, node: process.version, loadAverage: os.loadavg()[0] },
      awsTakeover,
    };
    console.log(JSON.stringify(summary, null, 2));
    writeSection('faults-aws-takeover', renderAwsTakeover(summary));
  } finally {
    await webhook.close();
  }
}

/** How long the doomed deliverer of the AWS-shaped takeover lives, holding its batch, before it dies. */
const DOOMED_LIFE_MS = 15_000;

interface AwsTakeover {
  readonly goalMs: number;
  readonly takeoverMs: number | null;
  readonly capMs: number;
  readonly livedMs: number;
  /** Lease wakes sent: one per lease taken, plus one per re-arm of a lease renewed past its wake. */
  readonly wakesArmed: number;
}

/**
 * The takeover as AWS has it: the queue and the dispatcher outlive the deliverer that dies, and the
 * sweep comes once a minute. The roles are the bus's own, in this process, on fresh emulators.
 */
async function awsShapedTakeover(webhook: FaultyWebhook): Promise<AwsTakeover> {
  return withEmulators('faults', async ({ env, names }) => {
    // The SDK reads the emulators' endpoints from the process's environment.
    Object.assign(process.env, env, names, { EVENTBUS_WEBHOOK_ALLOW: 'loopback,http' });
    const queue = new LocalDelayQueue({ retryMs: 1_000 });
    let wakesArmed = 0;
    const counted: DelayedWaker = {
      wakeAt: (wake, dueAt) => {
        wakesArmed++;
        return queue.wakeAt(wake, dueAt);
      },
    };
    // Lambda's asynchronous invocation of the deliverer, played in this process.
    const runs = new Set<Promise<unknown>>();
    let deliverer: Deliverer | undefined;
    const waker: Waker = {
      wake: async (refs) => {
        for (const ref of refs) {
          const run = (deliverer as Deliverer).deliver(ref, 60_000).catch((error) => log(`run: ${error}`));
          runs.add(run);
          run.finally(() => runs.delete(run));
        }
      },
    };
    const core = createBusCore({ env: process.env, waker, delayedWaker: counted });
    deliverer = createDelivererRole(core).deliverer;
    const dispatch = createDispatcherHandler(createDispatcherRole(core));
    queue.consumeWith(dispatch);
    const sweep = setInterval(
      () => void dispatch({ 'detail-type': 'Scheduled Event' }).catch(() => {}),
      deliverySweepSchedule.awsRateMinutes * 60_000,
    );
    try {
      const topic = 'aws-takeover';
      await core.topics.create({ name: topic, partitions: 1, retentionHours: 24 });
      await core.subscriptions.create({
        group: topic,
        topic,
        target: { type: 'webhook', url: webhook.url },
        batchSize: THROTTLE_EVENTS,
        maxAttempts: 3,
        startFrom: 'earliest',
        delivery: 'at-least-once',
        timeoutSeconds: 5,
      });
      await core.log.append(topic, 0, 24, [
        { key: null, value: Buffer.from('{"n":0}'), json: true, headers: {}, timestamp: Date.now() },
      ]);
      // The doomed deliverer: its target holds the batch; its heartbeat beats until it dies.
      let dead = false;
      const killable: Heartbeat = (beat, everyMs) =>
        timerHeartbeat(() => (dead ? Promise.resolve(false) : beat()), everyMs);
      let invoked = false;
      const doomed = new Deliverer({
        log: core.log,
        cursors: core.cursors,
        subscriptions: core.subscriptions,
        topics: core.topics,
        deadLetters: new DeadLetters(core.log, core.topics),
        targetFor: () => ({
          deliver: () => {
            invoked = true;
            return new Promise<DeliveryOutcome>(() => {});
          },
        }),
        waker,
        delayedWaker: counted,
        heartbeat: killable,
      });
      void doomed.deliver({ cursor: topic, partition: 0 }, 60_000);
      await until(() => invoked, 30_000);
      await sleep(DOOMED_LIFE_MS);
      dead = true;
      const diedAt = Date.now();
      const resumed = await until(() => webhook.of(topic).length >= 1, TAKEOVER_CAP_MS);
      return {
        goalMs: TAKEOVER_GOAL_MS,
        takeoverMs: resumed ? webhook.of(topic)[0].at - diedAt : null,
        capMs: TAKEOVER_CAP_MS,
        livedMs: DOOMED_LIFE_MS,
        wakesArmed,
      };
    } finally {
      clearInterval(sweep);
      queue.stop();
      await Promise.all([...runs]);
    }
  });
}

function renderFaults(summary: {
  date: string;
  machine: { cpus: number; node: string };
  throttle: {
    throttledRequests: number;
    requestsPerSecondSeen: number | null;
    requestsPerSecondAllowed: number;
    minGapMs: number;
    gapsMs: number[];
    batchSizes: number[];
  };
  takeover: {
    goalMs: number;
    takeoverMs: number | null;
    capMs: number;
    restartMs: number;
    afterRestartMs: number | null;
  };
}): string {
  const { throttle, takeover } = summary;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const took = takeover.takeoverMs === null ? `> ${seconds(takeover.capMs)}` : seconds(takeover.takeoverMs);
  return `## Delivery under faults

Written by \`npm run bench\` (bench/faults.ts) on ${summary.date}: the bus as \`npm start\` runs it, a
webhook on loopback in the benchmark's process, ${summary.machine.cpus} cores, Node ${summary.machine.node}.

**Throttled target.** The webhook answers \`429\` with \`Retry-After: ${RETRY_AFTER_SECONDS}\` to its first
${throttle.throttledRequests} requests (one partition, ${THROTTLE_EVENTS} events, \`batchSize\` ${THROTTLE_EVENTS}).

| requests/s seen while throttled | allowed | shortest gap | gaps | batch sizes sent |
| --- | --- | --- | --- | --- |
| ${throttle.requestsPerSecondSeen ?? '—'} | ${throttle.requestsPerSecondAllowed} | ${throttle.minGapMs} ms | ${throttle.gapsMs.join(', ')} ms | ${throttle.batchSizes.join(', ')} |

**Takeover after a killed deliverer.** The bus is killed with SIGKILL (with its DynamoDB Local and
s3rver) while the webhook holds a batch, and started again on the same data directory; the time runs
from the kill to the webhook's next request for that partition, restart included.

| kill → next delivery | restart (kill → healthy) | healthy → next delivery | goal |
| --- | --- | --- | --- |
| ${took} | ${seconds(takeover.restartMs)} | ${takeover.afterRestartMs === null ? '—' : seconds(takeover.afterRestartMs)} | ≤ ${seconds(takeover.goalMs)} |

On AWS no restart comes first: another deliverer takes over once the lease lets it, so the wait after
the restart is the part a deliverer's lease decides.
`;
}

function renderAwsTakeover(summary: {
  date: string;
  machine: { cpus: number; node: string; loadAverage: number };
  awsTakeover: AwsTakeover;
}): string {
  const { awsTakeover } = summary;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return `**Takeover after a killed deliverer, AWS-shaped.** Written by \`npm run bench\` (bench/faults.ts;
\`BENCH_FAULTS=aws-takeover\` runs it alone) on ${summary.date}, ${summary.machine.cpus} cores, Node
${summary.machine.node}. The delivery roles in the benchmark's process on fresh emulators, as AWS runs
them: the sweep once a minute, lease wakes on (local mode's delay queue for the SQS queue), no event
appended after the first. A deliverer holds the batch for ${seconds(awsTakeover.livedMs)}, renewing its
lease, then dies as a Lambda does (no heartbeat, no commit); the time runs from its death to the
webhook's next request for that partition.

| death → next delivery | lease wakes armed | goal |
| --- | --- | --- |
| ${awsTakeover.takeoverMs === null ? `> ${seconds(awsTakeover.capMs)}` : seconds(awsTakeover.takeoverMs)} | ${awsTakeover.wakesArmed} | ≤ ${seconds(awsTakeover.goalMs)} |

The machine was shared with other work while it ran (load average ${summary.machine.loadAverage.toFixed(1)} on its
${summary.machine.cpus} cores at the end). The wakes armed: one for the dead deliverer's
lease, the re-arms of that lease while it was renewed, and one for the lease its successor took
(docs/adr/0019).
`;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
