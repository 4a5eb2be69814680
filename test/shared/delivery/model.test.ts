import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { DEAD_LETTER_HEADERS, type DeliveryBatch } from '../../../protocol';
import { type BusCore, createBusCore } from '../../../shared/bus';
import { redriveCursor } from '../../../shared/delivery/cursor';
import { CursorStore } from '../../../shared/delivery/cursor-store';
import { DeadLetters } from '../../../shared/delivery/dead-letters';
import { deadLetterTopic } from '../../../shared/delivery/subscription';
import type { DeliveryOutcome, OutgoingBatch } from '../../../shared/delivery/targets/target';
import { WebhookTarget } from '../../../shared/delivery/targets/webhook-target';
import { startTestApi, type TestApi } from '../../support/api';
import { documentClient, newLog, s3Client, testConfig, uniqueTopic } from '../../support/aws';
import { DELIVERY_TEST_ENV, testDeliverer } from '../../support/delivery';

/**
 * A model-based check of delivery: fast-check draws a sequence of commands —
 * publishes (keyed, keyless, batched, with an Idempotency-Key and its repeat),
 * what the webhook target answers next (success, 500, 429 with Retry-After, a
 * hang past the timeout, a dropped socket, a partial failure, a slow success),
 * offset resets, redrives of the dead letters, deliverer runs, and deliverer
 * instances killed at a random request (their clients die, the lease stays
 * behind, a fresh instance takes over) — and runs them against the bus: the
 * API handler for publishes, resets and redrives, the real deliverer and
 * webhook client on an injected clock, DynamoDB Local and s3rver.
 *
 * The checker compares what the target received with what was acknowledged:
 * - every acknowledged event is accepted by the target at least once, or is
 *   in the group's dead-letter topic with its payload and a reason (unless a
 *   reset skipped it before it was delivered);
 * - each batch is that partition's acknowledged events in offset order, and
 *   starts where everything before it (since the last reset) was accepted or
 *   dead-lettered;
 * - an event the target accepted is delivered again only after a cause it can
 *   point to: a reset back over it, or a kill of the instance whose batch it was;
 * - nothing is delivered that was not acknowledged (an Idempotency-Key repeat
 *   appends nothing).
 *
 * Two checks hold the deliverer to issue 21: a dead instance's partition is
 * taken over fast (short fenced leases, ADR 15), and a throttled batch is
 * resent whole, no sooner than its Retry-After.
 */

/** A dead instance's partition is taken over this soon (issue 21: within 15 s). */
const TAKEOVER_GOAL_MS = 15_000;
const RETRY_AFTER_SECONDS = 1;
const PARTITIONS = 2;
const BATCH_SIZE = 4;
const MAX_ATTEMPTS = 3;
/** The webhook client's timeout: a hang costs this much real time, so it is short. */
const TARGET_TIMEOUT_MS = 1_000;
const RUN_BUDGET_MS = 20_000;

const FIXED_SEED = 20_261_204;
const RANDOM_SEED = Number(process.env.CHECKER_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** The fixed seed's runs all run (the same coverage however loaded the machine); the random seed's stop at the time limit. */
const FIXED_RUNS = 8;
const NUM_RUNS = Number(process.env.CHECKER_RUNS ?? 12);
const MAX_COMMANDS = 20;
/** Runs and shrinking stop here; a failure found by then is still reported, shrunk as far as it got. */
const TIME_LIMIT_MS = 45_000;

type Answer =
  | { kind: 'ok' }
  | { kind: 'slow' }
  | { kind: 'error' }
  | { kind: 'throttle' }
  | { kind: 'hang' }
  | { kind: 'drop' }
  | { kind: 'partial'; at: number };

const describeAnswer = (a: Answer) => (a.kind === 'partial' ? `partial@${a.at}` : a.kind);

interface Received {
  readonly seq: number;
  /** On the injected clock. */
  readonly at: number;
  readonly topic: string;
  readonly partition: number;
  readonly offsets: number[];
  readonly answer: Answer;
}

/** A cause that lets an accepted event be delivered again. */
type Cause =
  | { seq: number; kind: 'reset'; partition: number; to: number }
  | { seq: number; kind: 'kill'; partition: number; offsets: number[] };

const core: BusCore = createBusCore({
  env: { ...process.env, ...DELIVERY_TEST_ENV },
  waker: { wake: async () => {} },
});

/** One run's bus state as the checker sees it from outside, and the violations found so far. */
class World {
  skew = 0;
  seq = 0;
  /** Acknowledged events by partition, offset: their payload. */
  readonly acknowledged = new Map<number, Map<number, unknown>>();
  readonly idempotent: { key: string; body: unknown; results: unknown }[] = [];
  readonly script: Answer[] = [];
  readonly received: Received[] = [];
  /** `${partition}:${offset}` → seq of the last acceptance by the target. */
  readonly accepted = new Map<string, number>();
  readonly redriven = new Set<string>();
  readonly skipped = new Set<string>();
  readonly causes: Cause[] = [];
  /** Per partition, where ordering starts over (a reset) and the seq of that reset. */
  readonly base = new Map<number, { offset: number; seq: number }>();
  readonly throttled = new Map<number, { at: number; first: number; length: number }>();
  readonly violations: string[] = [];
  readonly log: string[] = [];
  redriveAsked = false;
  secret = '';
  private published = 0;

  constructor(
    readonly api: TestApi,
    readonly topic: string,
    readonly group: string,
  ) {}

  now = () => Date.now() + this.skew;

  nextValue(): { n: number } {
    return { n: this.published++ };
  }

  violation(message: string): void {
    this.violations.push(`${message} [after: ${this.log.slice(-6).join(' | ')}]`);
  }

  ack(partition: number, offset: number, value: unknown): void {
    const events = this.acknowledged.get(partition) ?? new Map<number, unknown>();
    this.acknowledged.set(partition, events);
    const known = events.get(offset);
    if (known !== undefined && JSON.stringify(known) !== JSON.stringify(value))
      this.violation(`offset ${partition}:${offset} acknowledged twice for different events`);
    events.set(offset, value);
  }

  async deadLetters(): Promise<Map<string, { value: unknown; error: string }>> {
    const dead = new Map<string, { value: unknown; error: string }>();
    const read = await core.log.read(deadLetterTopic(this.group), 0, 0, 10_000).catch(() => undefined);
    for (const record of read?.records ?? []) {
      const origin = `${record.headers[DEAD_LETTER_HEADERS.partition]}:${record.headers[DEAD_LETTER_HEADERS.offset]}`;
      dead.set(origin, {
        value: JSON.parse(record.value.toString()),
        error: record.headers[DEAD_LETTER_HEADERS.error] ?? '',
      });
    }
    return dead;
  }

  /** Checks a batch as it arrives and decides the answer. */
  async receive(batch: DeliveryBatch): Promise<Received> {
    const seq = ++this.seq;
    const at = this.now();
    const answer = this.script.shift() ?? { kind: 'ok' };
    const offsets = batch.events.map((e) => e.offset);
    const received = { seq, at, topic: batch.topic, partition: batch.partition, offsets, answer };
    this.received.push(received);
    const p = batch.partition;
    if (batch.topic === deadLetterTopic(this.group)) return received;
    const where = `batch ${p}:[${offsets.join(',')}]`;
    // The batch holds acknowledged events, each as published, in offset order without holes.
    const events = this.acknowledged.get(p) ?? new Map();
    for (const event of batch.events) {
      if (!events.has(event.offset))
        this.violation(`${where}: offset ${event.offset} was never acknowledged`);
      else if (JSON.stringify(events.get(event.offset)) !== JSON.stringify(event.value))
        this.violation(`${where}: offset ${event.offset} is not the event acknowledged there`);
    }
    const first = offsets[0];
    const last = offsets[offsets.length - 1];
    for (let o = first; o <= last; o++)
      if (events.has(o) && !offsets.includes(o)) this.violation(`${where}: skips acknowledged offset ${o}`);
    if (offsets.some((o, i) => i > 0 && o <= offsets[i - 1])) this.violation(`${where}: not in offset order`);
    // It starts where everything before it was accepted or dead-lettered (since the last reset).
    const base = this.base.get(p) ?? { offset: 0, seq: 0 };
    const dead = await this.deadLetters();
    for (const o of events.keys()) {
      if (o < base.offset || o >= first) continue;
      const key = `${p}:${o}`;
      if ((this.accepted.get(key) ?? -1) > base.seq || dead.has(key) || this.skipped.has(key)) continue;
      this.violation(`${where}: starts past offset ${o}, neither accepted nor dead-lettered`);
    }
    // An accepted event comes again only after a cause it can point to.
    for (const o of offsets) {
      const acceptedAt = this.accepted.get(`${p}:${o}`);
      if (acceptedAt === undefined) continue;
      const cause = this.causes.some(
        (c) =>
          c.seq > acceptedAt && c.partition === p && (c.kind === 'reset' ? c.to <= o : c.offsets.includes(o)),
      );
      if (!cause)
        this.violation(`${where}: offset ${o} accepted at #${acceptedAt} is delivered again without cause`);
    }
    // A throttled target gets the same batch again, no sooner than its Retry-After.
    const throttle = this.throttled.get(p);
    if (throttle) {
      if (at - throttle.at < RETRY_AFTER_SECONDS * 1000)
        this.violation(
          `${where}: came ${at - throttle.at} ms after a 429 with Retry-After: ${RETRY_AFTER_SECONDS}`,
        );
      if (first === throttle.first && offsets.length < throttle.length)
        this.violation(`${where}: a throttled batch of ${throttle.length} was split`);
    }
    if (throttle) met.throttlesResent++;
    this.throttled.delete(p);
    if (answer.kind === 'throttle') this.throttled.set(p, { at, first, length: offsets.length });
    met.batches++;
    if (answer.kind === 'throttle') met.throttles++;
    if (offsets.some((o) => this.accepted.has(`${p}:${o}`))) met.redelivered++;
    this.log.push(`#${seq} ${where} → ${describeAnswer(answer)}`);
    return received;
  }

  /**
   * What the deliverer made of the target's answer (as its webhook client reported it): what it
   * accepted counts as delivered. The webhook's own view could count an answer the client had
   * already given up on.
   */
  answered(batch: DeliveryBatch, outcome: DeliveryOutcome): void {
    const offsets = batch.events.map((e) => e.offset);
    const accepted =
      outcome.status === 'delivered'
        ? batch.events
        : outcome.status === 'partial'
          ? batch.events.filter((e) => e.offset < outcome.lowestFailed)
          : [];
    if (batch.topic === deadLetterTopic(this.group)) {
      for (const event of accepted)
        this.redriven.add(
          `${event.headers[DEAD_LETTER_HEADERS.partition]}:${event.headers[DEAD_LETTER_HEADERS.offset]}`,
        );
      return;
    }
    const seq =
      [...this.received]
        .reverse()
        .find(
          (r) => r.topic === batch.topic && r.partition === batch.partition && r.offsets[0] === offsets[0],
        )?.seq ?? this.seq;
    for (const event of accepted) this.accepted.set(`${batch.partition}:${event.offset}`, seq);
  }
}

let world: World | undefined;

/** What the runs met, so a run that exercised nothing shows. */
const met = {
  batches: 0,
  throttles: 0,
  throttlesResent: 0,
  kills: 0,
  killsWithLease: 0,
  resets: 0,
  redelivered: 0,
  deadLetters: 0,
  redriven: 0,
};

/** The webhook: the current world checks each batch and decides the answer. */
async function serveWebhook(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as DeliveryBatch;
  const current = world;
  const received = await current?.receive(batch);
  const answer = received?.answer ?? { kind: 'ok' };
  const reply = (status: number, headers: Record<string, string> = {}, body = '') => {
    if (!request.socket.destroyed) response.writeHead(status, headers).end(body);
  };
  switch (answer.kind) {
    case 'ok':
      reply(200);
      return;
    case 'slow':
      await new Promise((resolve) => setTimeout(resolve, 30));
      reply(200);
      return;
    case 'error':
      reply(500, {}, 'boom');
      return;
    case 'throttle':
      reply(429, { 'retry-after': String(RETRY_AFTER_SECONDS) }, 'slow down');
      return;
    case 'hang':
      // Never answers: the client's timeout ends it.
      return;
    case 'drop':
      request.socket.destroy();
      return;
    case 'partial': {
      const failed = batch.events[answer.at % batch.events.length].offset;
      reply(
        200,
        { 'content-type': 'application/json' },
        JSON.stringify({ batchItemFailures: [{ itemIdentifier: String(failed), error: 'item failed' }] }),
      );
      return;
    }
  }
}

let api: TestApi;
let server: Server;
let webhookUrl: string;

beforeAll(async () => {
  api = await startTestApi(undefined, {
    env: { ...process.env, ...DELIVERY_TEST_ENV },
    waker: { wake: async () => {} },
  });
  server = createServer((request, response) => {
    serveWebhook(request, response).catch((error) => response.destroy(error));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  webhookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await api.close();
});

async function newWorld(): Promise<World> {
  const topic = uniqueTopic('model');
  const group = `${topic}-g`;
  const created = await api.request('PUT', `/topics/${topic}`, {
    body: { partitions: PARTITIONS, retentionHours: 24 },
  });
  expect(created.status).toBe(201);
  const subscribed = await api.request('PUT', `/subscriptions/${group}`, {
    body: {
      topic,
      target: { type: 'webhook', url: webhookUrl },
      batchSize: BATCH_SIZE,
      maxAttempts: MAX_ATTEMPTS,
      startFrom: 'earliest',
      timeoutSeconds: 1,
    },
  });
  expect(subscribed.status).toBe(201);
  const created_ = new World(api, topic, group);
  created_.secret = subscribed.body.secret;
  return created_;
}

/**
 * One deliverer instance. With `dieAfter`, it is killed at its `dieAfter`-th AWS request after it took a
 * lease (a process dying at that await): that request and every later one fail, and nothing it does after
 * reaches DynamoDB or S3.
 */
function instance(w: World, dieAfter?: number) {
  let leased = false;
  let requests = 0;
  let dead = false;
  const die = (next: any, context: { commandName?: string }) => async (args: any) => {
    if (leased) requests++;
    if (dead || (dieAfter !== undefined && requests >= dieAfter)) {
      dead = true;
      throw Object.assign(new Error('instance killed'), { name: 'InstanceKilled' });
    }
    const result = await next(args);
    if (
      context.commandName === 'UpdateItemCommand' &&
      /leaseOwner\s*=/.test(args.input?.UpdateExpression ?? '')
    )
      leased = true;
    return result;
  };
  const dynamoClient = new DynamoDBClient({});
  dynamoClient.middlewareStack.add(die, { step: 'initialize', name: 'kill' });
  const s3: S3Client = s3Client();
  s3.middlewareStack.add(die, { step: 'initialize', name: 'kill' });
  const dynamo = documentClient(dynamoClient);
  const log = newLog({ dynamo, s3 });
  const webhook = new WebhookTarget(webhookUrl, w.secret, TARGET_TIMEOUT_MS, core.config.webhookPolicy);
  const target = {
    async deliver(batch: OutgoingBatch): Promise<DeliveryOutcome> {
      const outcome = await webhook.deliver(batch);
      w.answered(JSON.parse(batch.body) as DeliveryBatch, outcome);
      return outcome;
    },
  };
  return testDeliverer(core, target, {
    log,
    cursors: new CursorStore(dynamo, testConfig().groupsTable),
    deadLetters: new DeadLetters(log, core.topics, w.now),
    backoff: { baseMs: 100, maxMs: 2_000 },
    now: w.now,
    // Waiting passes on the injected clock, not in real time.
    sleep: async (ms) => {
      w.skew += ms;
    },
  });
}

const refs = (w: World) => [
  ...Array.from({ length: PARTITIONS }, (_, partition) => ({ cursor: w.group, partition })),
  ...(w.redriveAsked ? [{ cursor: redriveCursor(w.group), partition: 0 }] : []),
];

// ---- Commands ----

/** What the commands need to know of the run: requests that can be repeated, events not yet delivered. */
type Model = { idempotent: number; undelivered: number };
type Cmd = fc.AsyncCommand<Model, World>;

class Publish implements Cmd {
  constructor(
    readonly keys: (string | null)[],
    readonly idempotencyKey: boolean,
  ) {}
  check = () => true;
  async run(m: Model, w: World) {
    const events = this.keys.map((key) => ({ ...(key === null ? {} : { key }), value: w.nextValue() }));
    const body = { events };
    const key = this.idempotencyKey ? `idem-${w.topic}-${m.idempotent}` : undefined;
    const answer = await w.api.request('POST', `/topics/${w.topic}/events`, {
      body,
      headers: key ? { 'idempotency-key': key } : {},
    });
    expect(answer.status).toBe(200);
    answer.body.results.forEach((r: { partition: number; offset: number }, i: number) => {
      w.ack(r.partition, r.offset, events[i].value);
    });
    if (key) {
      w.idempotent.push({ key, body, results: answer.body.results });
      m.idempotent++;
    }
    m.undelivered += events.length;
    w.log.push(`publish ${answer.body.results.map((r: any) => `${r.partition}:${r.offset}`).join(',')}`);
  }
  toString = () => `publish(${JSON.stringify(this.keys)}${this.idempotencyKey ? ', idempotency-key' : ''})`;
}

class RepeatIdempotent implements Cmd {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.idempotent > 0;
  async run(_m: Model, w: World) {
    const first = w.idempotent[this.pick % w.idempotent.length];
    const answer = await w.api.request('POST', `/topics/${w.topic}/events`, {
      body: first.body,
      headers: { 'idempotency-key': first.key },
    });
    expect(answer.status).toBe(200);
    // A repeat answers as the first time and appends nothing (anything new would reach the target unacknowledged).
    expect(answer.body.results).toEqual(first.results);
    w.log.push('repeat publish');
  }
  toString = () => `repeatIdempotent(${this.pick})`;
}

class Script implements Cmd {
  constructor(readonly answers: Answer[]) {}
  check = () => true;
  async run(_m: Model, w: World) {
    w.script.push(...this.answers);
  }
  toString = () => `answers(${this.answers.map(describeAnswer).join(',')})`;
}

class Deliver implements Cmd {
  constructor(readonly advanceMs: number) {}
  check = () => true;
  async run(m: Model, w: World) {
    m.undelivered = 0;
    for (const ref of refs(w)) {
      const run = await instance(w).deliver(ref, RUN_BUDGET_MS);
      w.log.push(`deliver ${ref.cursor.endsWith('#redrive') ? 'redrive' : ref.partition}: ${run.result}`);
    }
    w.skew += this.advanceMs;
  }
  toString = () => `deliver(then +${this.advanceMs} ms)`;
}

class Kill implements Cmd {
  constructor(
    readonly partition: number,
    readonly atRequest: number,
  ) {}
  // A kill while there is nothing to deliver kills an idle instance: nothing to check.
  check = (m: Readonly<Model>) => m.undelivered > 0;
  async run(_m: Model, w: World) {
    const ref = { cursor: w.group, partition: this.partition };
    const before = w.received.length;
    const killedAt = w.now();
    await instance(w, this.atRequest)
      .deliver(ref, RUN_BUDGET_MS)
      .catch(() => {});
    // The batch it had in flight (its last) may come again, and only that one.
    const own = w.received.slice(before).filter((r) => r.topic === w.topic && r.partition === this.partition);
    const inFlight = own.at(-1);
    w.seq++;
    w.causes.push({ seq: w.seq, kind: 'kill', partition: this.partition, offsets: inFlight?.offsets ?? [] });
    w.throttled.delete(this.partition);
    w.log.push(`kill ${this.partition} at request ${this.atRequest}`);
    // A fresh instance looks after the dead one's partition.
    const state = await core.cursors.read(ref);
    const leaseLeft = state?.leaseOwner ? (state.leaseExpires ?? 0) - w.now() : 0;
    met.kills++;
    if (leaseLeft > 0) met.killsWithLease++;
    w.skew = Math.max(w.skew, killedAt + TAKEOVER_GOAL_MS - Date.now());
    const run = await instance(w).deliver(ref, RUN_BUDGET_MS);
    if (run.result === 'held') {
      w.violation(
        `partition ${this.partition} still held ${TAKEOVER_GOAL_MS} ms after its deliverer was killed`,
      );
    }
    w.log.push(`takeover ${this.partition} after ${leaseLeft} ms of lease: ${run.result}`);
  }
  toString = () =>
    `kill(partition ${this.partition}, at its request ${this.atRequest} after taking the lease)`;
}

class Reset implements Cmd {
  constructor(
    readonly partition: number,
    readonly fraction: number,
  ) {}
  check = () => true;
  async run(_m: Model, w: World) {
    const events = w.acknowledged.get(this.partition) ?? new Map();
    const end = events.size === 0 ? 0 : Math.max(...events.keys()) + 1;
    const to = Math.floor(end * this.fraction);
    const state = await core.cursors.read({ cursor: w.group, partition: this.partition });
    const committed = state?.committed ?? 0;
    const answer = await w.api.request('POST', `/subscriptions/${w.group}/offsets`, {
      body: { to: { offsets: { [this.partition]: to } } },
    });
    expect(answer.status).toBe(200);
    // Moving forward skips what was not delivered yet; moving back replays.
    for (let o = committed; o < to; o++) w.skipped.add(`${this.partition}:${o}`);
    w.seq++;
    w.causes.push({ seq: w.seq, kind: 'reset', partition: this.partition, to });
    w.base.set(this.partition, { offset: to, seq: w.seq });
    w.throttled.delete(this.partition);
    met.resets++;
    w.log.push(`reset ${this.partition} from ${committed} to ${to}`);
  }
  toString = () => `reset(partition ${this.partition}, to ${this.fraction.toFixed(2)} of its end)`;
}

class Redrive implements Cmd {
  check = () => true;
  async run(_m: Model, w: World) {
    const answer = await w.api.request('POST', `/subscriptions/${w.group}/redrive`);
    expect(answer.status).toBe(202);
    w.redriveAsked = true;
    w.log.push(`redrive ${answer.body.deadLetters}`);
  }
  toString = () => 'redrive()';
}

const answerArb: fc.Arbitrary<Answer> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'ok' as const }), weight: 3 },
  fc.constant({ kind: 'slow' as const }),
  { arbitrary: fc.constant({ kind: 'error' as const }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'throttle' as const }), weight: 2 },
  fc.constant({ kind: 'hang' as const }),
  fc.constant({ kind: 'drop' as const }),
  { arbitrary: fc.nat(8).map((at) => ({ kind: 'partial' as const, at })), weight: 2 },
);
const keyArb = fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: null });

const commandArbs: fc.Arbitrary<Cmd>[] = [
  fc.tuple(fc.array(keyArb, { minLength: 1, maxLength: 5 }), fc.boolean()).map(([k, i]) => new Publish(k, i)),
  fc.tuple(fc.array(keyArb, { minLength: 1, maxLength: 5 }), fc.boolean()).map(([k, i]) => new Publish(k, i)),
  fc.nat(10).map((pick) => new RepeatIdempotent(pick)),
  fc.array(answerArb, { minLength: 1, maxLength: 4 }).map((a) => new Script(a)),
  fc.array(answerArb, { minLength: 1, maxLength: 4 }).map((a) => new Script(a)),
  fc.constantFrom(0, 1_000, 30_000).map((ms) => new Deliver(ms)),
  fc.constantFrom(0, 1_000, 30_000).map((ms) => new Deliver(ms)),
  fc.tuple(fc.nat(PARTITIONS - 1), fc.integer({ min: 1, max: 6 })).map(([p, k]) => new Kill(p, k)),
  fc.tuple(fc.nat(PARTITIONS - 1), fc.integer({ min: 1, max: 6 })).map(([p, k]) => new Kill(p, k)),
  fc
    .tuple(fc.nat(PARTITIONS - 1), fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([p, f]) => new Reset(p, f)),
  fc.constant(new Redrive()),
];

/** Lets every cursor catch up with a target that accepts everything, then checks what was acknowledged. */
async function drainAndCheck(w: World): Promise<void> {
  w.script.length = 0;
  w.log.push('drain');
  for (let round = 0; round < 30; round++) {
    let pending = false;
    for (const ref of refs(w)) {
      await instance(w).deliver(ref, RUN_BUDGET_MS);
      const state = await core.cursors.read(ref);
      const end = await core.log.endOffset(state?.topic ?? w.topic, ref.partition);
      if (state && state.committed < Math.min(end, state.until ?? end)) pending = true;
    }
    if (!pending) break;
    // Past any retry delay and any lease a killed instance left.
    w.skew += 60_000;
  }
  const dead = await w.deadLetters();
  met.deadLetters += dead.size;
  met.redriven += w.redriven.size;
  for (const [partition, events] of w.acknowledged) {
    for (const [offset, value] of events) {
      const key = `${partition}:${offset}`;
      if (w.accepted.has(key) || w.skipped.has(key)) continue;
      const letter = dead.get(key);
      if (!letter) w.violation(`offset ${key} acknowledged, never accepted nor dead-lettered`);
      else if (JSON.stringify(letter.value) !== JSON.stringify(value))
        w.violation(`dead letter of ${key} does not carry its payload`);
    }
  }
  for (const [key, letter] of dead) {
    const [partition, offset] = key.split(':').map(Number);
    if (!w.acknowledged.get(partition)?.has(offset)) w.violation(`dead letter for unacknowledged ${key}`);
    if (letter.error === '') w.violation(`dead letter of ${key} has no reason`);
  }
}

/** `CHECKER_SEED` and `CHECKER_PATH` (both printed with a failure) replay a failing run and its shrinking. */
function checkDelivery(seed: number, options: { path?: string; numRuns: number; timeLimitMs: number }) {
  return fc.assert(
    fc.asyncProperty(fc.commands(commandArbs, { maxCommands: MAX_COMMANDS, size: 'max' }), async (cmds) => {
      const w = await newWorld();
      world = w;
      await fc.asyncModelRun(() => ({ model: { idempotent: 0, undelivered: 0 }, real: w }), cmds);
      await drainAndCheck(w);
      world = undefined;
      if (w.violations.length > 0)
        throw new Error(`${w.violations.slice(0, 5).join('\n')}\n${w.log.join('\n')}`);
    }),
    {
      seed,
      path: options.path,
      numRuns: options.numRuns,
      interruptAfterTimeLimit: options.timeLimitMs,
      // A failure is shrunk to a short command list (fast-check prints it with the seed and path).
      endOnFailure: false,
    },
  );
}

describe('delivery checked against a model of what was acknowledged', () => {
  afterAll(() => {
    console.log(`delivery checker met: ${JSON.stringify(met)}`);
  });

  test(
    `a fixed seed (${FIXED_SEED})`,
    () => checkDelivery(FIXED_SEED, { numRuns: FIXED_RUNS, timeLimitMs: 4 * TIME_LIMIT_MS }),
    240_000,
  );

  // Found by a random seed: after a throttle spent the first event's attempts, the events behind its
  // dead letter went 29 ms after the 429 instead of waiting for its Retry-After.
  test(
    'seed 712709825: the events behind a throttled dead letter wait for the Retry-After',
    () => checkDelivery(712_709_825, { numRuns: 12, timeLimitMs: 4 * TIME_LIMIT_MS }),
    240_000,
  );

  test(`a random seed (${RANDOM_SEED}; replay with CHECKER_SEED=${RANDOM_SEED})`, () => {
    console.log(`delivery checker: random seed ${RANDOM_SEED}`);
    return checkDelivery(RANDOM_SEED, {
      path: process.env.CHECKER_PATH,
      numRuns: NUM_RUNS,
      timeLimitMs: TIME_LIMIT_MS,
    });
  }, 240_000);
});
