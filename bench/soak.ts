/**
 * `npm run soak` (minutes, not in CI): the bus as `npm start` runs it, in a
 * process of its own, publishing at a steady rate to a topic that three groups
 * deliver to a flaky webhook (500s, 429 with Retry-After, hangs past the
 * timeout, dropped sockets, partial batch failures, poison events), killed with
 * SIGKILL every so often and restarted on the same data. Prints what was
 * acknowledged, delivered, lost (must be 0), delivered more than once,
 * dead-lettered, delivered out of order, how long partitions with a batch in
 * flight at a kill waited for their next delivery, the end-to-end latency and
 * the bus's memory. docs/reliability.md says how to read them.
 *
 * SOAK_MINUTES (default 3) of publishing, SOAK_RATE events/s (default 20),
 * SOAK_KILL_EVERY_SECONDS (default 45), SOAK_SEED (default: random, printed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BusProcess, sleep } from './bus-process';
import { prng } from './corpus';
import { percentile, send } from './load';

const ROOT = path.resolve(__dirname, '..');
const ADMIN_KEY = 'soak-admin-key-0123456789abcdef';
const auth = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
const MINUTES = Number(process.env.SOAK_MINUTES ?? 3);
const RATE = Number(process.env.SOAK_RATE ?? 20);
const KILL_EVERY_MS = Number(process.env.SOAK_KILL_EVERY_SECONDS ?? 45) * 1000;
const SEED = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const DRAIN_TIMEOUT_MS = Number(process.env.SOAK_DRAIN_MINUTES ?? 5) * 60_000;
const TOPIC = 'soak';
const PARTITIONS = 4;
const GROUPS = ['soak-a', 'soak-b', 'soak-c'];
const KEYS = 64;
/** One event in this many is poison: the webhook fails it every time, so it ends in the dead letters. */
const POISON_EVERY = 400;
const TIMEOUT_SECONDS = 2;

function log(line: string): void {
  process.stderr.write(`soak: ${line}\n`);
}

type Fault = 'ok' | 'error' | 'throttle' | 'hang' | 'drop' | 'partial';
/** How often the webhook answers each way (the rest of the time, it accepts the batch). */
const FAULTS: [Fault, number][] = [
  ['error', 0.05],
  ['throttle', 0.05],
  ['hang', 0.02],
  ['drop', 0.03],
  ['partial', 0.07],
];

interface Event {
  readonly offset: number;
  readonly key: string | null;
  readonly value: { n: number; poison?: boolean };
}

/** What the webhook saw: per `<group>/<partition>`, accepted offsets in order, and the batches in flight. */
class Webhook {
  url = '';
  /** `<group>/<partition>/<offset>` → first acceptance (ms). */
  readonly firstAccepted = new Map<string, number>();
  acceptedDeliveries = 0;
  /** Per `<group>/<partition>`, the highest offset accepted for the first time. */
  private readonly highest = new Map<string, number>();
  orderViolations = 0;
  readonly answers: Record<Fault, number> = { ok: 0, error: 0, throttle: 0, hang: 0, drop: 0, partial: 0 };
  /** `<group>/<partition>` → requests being answered now. */
  readonly inFlight = new Map<string, number>();
  /** `<group>/<partition>` → arrival times of its requests. */
  readonly arrivals = new Map<string, number[]>();

  constructor(private readonly random: () => number) {}

  async start(): Promise<() => Promise<void>> {
    const server = createServer((request, response) => this.serve(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    return () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
  }

  private pick(): Fault {
    let roll = this.random();
    for (const [fault, p] of FAULTS) {
      if (roll < p) return fault;
      roll -= p;
    }
    return 'ok';
  }

  private serve(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        group: string;
        topic: string;
        partition: number;
        events: Event[];
      };
      const where = `${batch.group}/${batch.partition}`;
      const arrivals = this.arrivals.get(where) ?? [];
      arrivals.push(Date.now());
      this.arrivals.set(where, arrivals);
      this.inFlight.set(where, (this.inFlight.get(where) ?? 0) + 1);
      response.on('close', () => this.inFlight.set(where, (this.inFlight.get(where) ?? 1) - 1));
      const poisoned = batch.events.findIndex((e) => e.value?.poison);
      let fault = this.pick();
      if (poisoned >= 0 && (fault === 'ok' || fault === 'partial')) fault = 'partial';
      this.answers[fault]++;
      const accept = (count: number) => {
        for (const event of batch.events.slice(0, count)) this.accepted(where, event.offset);
      };
      switch (fault) {
        case 'ok':
          accept(batch.events.length);
          response.writeHead(204).end();
          return;
        case 'error':
          response.writeHead(500).end('flaky');
          return;
        case 'throttle':
          response.writeHead(429, { 'retry-after': '1' }).end('slow down');
          return;
        case 'hang':
          // Answers after the bus's timeout, to a client that has gone.
          setTimeout(() => response.destroy(), (TIMEOUT_SECONDS + 1) * 1000).unref();
          return;
        case 'drop':
          request.socket.destroy();
          return;
        case 'partial': {
          const failed = poisoned >= 0 ? poisoned : Math.floor(this.random() * batch.events.length);
          accept(failed);
          response.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              batchItemFailures: [
                { itemIdentifier: String(batch.events[failed].offset), error: 'flaky item' },
              ],
            }),
          );
          return;
        }
      }
    });
  }

  private accepted(where: string, offset: number): void {
    this.acceptedDeliveries++;
    const id = `${where}/${offset}`;
    if (this.firstAccepted.has(id)) return;
    this.firstAccepted.set(id, Date.now());
    // Events accepted for the first time come in offset order within a group-partition.
    if (offset < (this.highest.get(where) ?? -1)) this.orderViolations++;
    else this.highest.set(where, offset);
  }
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  log(`seed ${SEED}: ${MINUTES} min at ${RATE} events/s, SIGKILL every ${KILL_EVERY_MS / 1000} s`);
  const random = prng(SEED);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'eventbus-soak-'));
  const statsFile = path.join(dataDir, 'request-stats.json');
  const webhook = new Webhook(random);
  const closeWebhook = await webhook.start();
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const start = () => BusProcess.start({ root: ROOT, dataDir, adminKey: ADMIN_KEY, statsFile });
  let bus: BusProcess | undefined = await start();
  const current = () => bus;
  const call = async (method: string, route: string, body?: unknown) => {
    const running = current();
    if (!running) throw new Error('the bus is down');
    const answer = await send(
      agent,
      method,
      running.url + route,
      auth,
      body ? Buffer.from(JSON.stringify(body)) : undefined,
    );
    if (answer.status >= 300) throw new Error(`${method} ${route}: ${answer.status} ${answer.body}`);
    return answer.body ? JSON.parse(answer.body) : undefined;
  };
  const rss: number[] = [];
  const takeovers: number[] = [];
  const pendingTakeovers: { where: string; killedAt: number }[] = [];
  let kills = 0;
  let publishFailures = 0;
  /** `<partition>/<offset>` → when its publish was sent. */
  const acknowledged = new Map<string, { sentAt: number; poison: boolean }>();
  try {
    await call('PUT', `/topics/${TOPIC}`, { partitions: PARTITIONS, retentionHours: 24 });
    for (const group of GROUPS)
      await call('PUT', `/subscriptions/${group}`, {
        topic: TOPIC,
        target: { type: 'webhook', url: webhook.url },
        batchSize: 10,
        maxAttempts: 5,
        startFrom: 'earliest',
        timeoutSeconds: TIMEOUT_SECONDS,
      });

    const sampler = setInterval(() => {
      const bytes = current()?.rssBytes();
      if (bytes) rss.push(bytes);
      const now = Date.now();
      for (let i = pendingTakeovers.length - 1; i >= 0; i--) {
        const { where, killedAt } = pendingTakeovers[i];
        const next = (webhook.arrivals.get(where) ?? []).find((at) => at > killedAt);
        if (next !== undefined) {
          takeovers.push(next - killedAt);
          pendingTakeovers.splice(i, 1);
        } else if (now - killedAt > DRAIN_TIMEOUT_MS) pendingTakeovers.splice(i, 1);
      }
    }, 200);

    const publishEnds = Date.now() + MINUTES * 60_000;
    let nextKill = Date.now() + KILL_EVERY_MS;
    let restarting: Promise<void> | undefined;
    let n = 0;
    const inFlight = new Set<Promise<void>>();
    while (Date.now() < publishEnds) {
      const busy = [...webhook.inFlight.values()].some((count) => count > 0);
      // A crash, preferably while the webhook holds a batch (up to 10 s late for one).
      if (bus && Date.now() >= nextKill && (busy || Date.now() >= nextKill + 10_000)) {
        const killedAt = Date.now();
        const held = [...webhook.inFlight].filter(([, count]) => count > 0).map(([where]) => where);
        for (const where of held) pendingTakeovers.push({ where, killedAt });
        log(`kill ${++kills}: ${held.length} group-partitions with a batch in flight`);
        const dead = bus;
        bus = undefined;
        await dead.kill();
        // Publishing goes on meanwhile: requests fail until the bus is back, as clients would see.
        restarting = start().then((started) => {
          bus = started;
          log(`restarted in ${Date.now() - killedAt} ms`);
          nextKill = Date.now() + KILL_EVERY_MS;
        });
      }
      const size = 1 + Math.floor(random() * 5);
      const events = Array.from({ length: size }, () => {
        const id = n++;
        return {
          key: random() < 0.8 ? `k${id % KEYS}` : undefined,
          value: { n: id, ...(id % POISON_EVERY === POISON_EVERY - 1 ? { poison: true } : {}) },
        };
      });
      const sentAt = Date.now();
      const publish = call('POST', `/topics/${TOPIC}/events`, { events })
        .then((answer: { results: { partition: number; offset: number }[] }) => {
          answer.results.forEach((r, i) => {
            acknowledged.set(`${r.partition}/${r.offset}`, { sentAt, poison: !!events[i].value.poison });
          });
        })
        .catch(() => {
          publishFailures++;
        });
      inFlight.add(publish);
      publish.finally(() => inFlight.delete(publish));
      await sleep((size * 1000) / RATE);
    }
    await Promise.all(inFlight);
    await restarting;
    log(`published: ${acknowledged.size} events acknowledged; draining`);

    // Every acknowledged event, for every group: accepted by the webhook, or in the group's dead letters.
    const deadLetters = async (group: string) => {
      const dead = new Set<string>();
      let offset = 0;
      for (;;) {
        const page = await call(
          'GET',
          `/topics/${group}.dlq/partitions/0/events?offset=${offset}&limit=500`,
        ).catch(() => undefined);
        for (const event of page?.events ?? [])
          dead.add(`${event.headers['eventbus-dlq-partition']}/${event.headers['eventbus-dlq-offset']}`);
        if (!page || page.events.length === 0) return dead;
        offset = page.nextOffset;
      }
    };
    const missing = async () => {
      const lost: string[] = [];
      const dead = new Map<string, Set<string>>();
      for (const group of GROUPS) {
        const letters = await deadLetters(group);
        dead.set(group, letters);
        for (const id of acknowledged.keys())
          if (!webhook.firstAccepted.has(`${group}/${id}`) && !letters.has(id)) lost.push(`${group}/${id}`);
      }
      return { lost, dead };
    };
    const drainEnds = Date.now() + DRAIN_TIMEOUT_MS;
    let state = await missing();
    while (state.lost.length > 0 && Date.now() < drainEnds) {
      await sleep(2_000);
      state = await missing();
    }
    clearInterval(sampler);

    const latencies = Float64Array.from(
      GROUPS.flatMap((group) =>
        [...acknowledged]
          .filter(([id]) => webhook.firstAccepted.has(`${group}/${id}`))
          .map(([id, { sentAt }]) => (webhook.firstAccepted.get(`${group}/${id}`) as number) - sentAt),
      ),
    ).sort();
    const deadLettered = [...state.dead.values()].reduce((sum, set) => sum + set.size, 0);
    const delivered = GROUPS.reduce(
      (sum, group) =>
        sum + [...acknowledged.keys()].filter((id) => webhook.firstAccepted.has(`${group}/${id}`)).length,
      0,
    );
    const summary = {
      date: new Date().toISOString(),
      seed: SEED,
      machine: { cpus: os.cpus().length, node: process.version },
      minutes: MINUTES,
      ratePerSecond: RATE,
      groups: GROUPS.length,
      kills,
      acknowledged: acknowledged.size,
      publishFailures,
      poison: [...acknowledged.values()].filter((e) => e.poison).length,
      /** Acknowledged events accepted by the webhook, counted once per group. */
      delivered,
      /** Events whose publish got no answer (the bus was killed meanwhile) and were delivered all the same. */
      deliveredUnacknowledged: webhook.firstAccepted.size - delivered,
      lost: state.lost.length,
      lostExamples: state.lost.slice(0, 10),
      duplicates: webhook.acceptedDeliveries - webhook.firstAccepted.size,
      deadLettered,
      orderViolations: webhook.orderViolations,
      answers: webhook.answers,
      takeoverMs: {
        count: takeovers.length,
        unresolved: pendingTakeovers.length,
        values: takeovers.sort((a, b) => a - b),
      },
      latencyMs: {
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
        max: latencies[latencies.length - 1],
      },
      rssMb: {
        max: Math.round(Math.max(...rss) / 2 ** 20),
        last: Math.round((rss[rss.length - 1] ?? 0) / 2 ** 20),
      },
    };
    console.log(JSON.stringify(summary, null, 2));
    if (summary.lost > 0) process.exitCode = 1;
  } finally {
    await bus?.stop();
    await closeWebhook();
    agent.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
