import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { Webhook } from 'standardwebhooks';
import { createDispatcherHandler } from '../../functions/dispatcher/handler';
import { LocalDelayQueue } from '../../local/delay-queue';
import { StreamPoller } from '../../local/stream-poller';
import type { DeliveryBatch } from '../../protocol';
import {
  type BusCore,
  createBusCore,
  createDelivererRole,
  createDispatcherRole,
  type DispatcherRole,
} from '../../shared/bus';
import type { CursorRef } from '../../shared/delivery/cursor-store';
import { DeadLetters } from '../../shared/delivery/dead-letters';
import { Deliverer, type DelivererOptions } from '../../shared/delivery/deliverer';
import { Dispatcher } from '../../shared/delivery/dispatcher';
import type { DeliveryTargetClient, OutgoingBatch } from '../../shared/delivery/targets/target';
import type { Waker } from '../../shared/delivery/waker';
import { SubscriptionRegistry } from '../../shared/registry/subscription-registry';
import { startTestApi, type TestApi } from './api';
import { testConfig, uniqueTopic } from './aws';

/** A group on `topic` with a Lambda target nobody invokes (tests hand the deliverer their own), from the start. */
export async function createGroup(
  core: Pick<BusCore, 'subscriptions'>,
  topic: string,
  options: { prefix?: string; maxAttempts?: number; batchSize?: number } = {},
): Promise<string> {
  const group = `${options.prefix ?? 'g'}-${randomUUID().slice(0, 8)}`;
  await core.subscriptions.create({
    group,
    topic,
    target: { type: 'lambda', function: 'unused' },
    batchSize: options.batchSize ?? 10,
    maxAttempts: options.maxAttempts ?? 3,
    startFrom: 'earliest',
    delivery: 'at-least-once',
    timeoutSeconds: 5,
  });
  return group;
}

/** Settings delivery tests run with: loopback webhooks over HTTP, and short retry delays. */
export const DELIVERY_TEST_ENV = {
  EVENTBUS_WEBHOOK_ALLOW: 'loopback,http',
  EVENTBUS_RETRY_BASE_MS: '200',
};

/**
 * Plays Lambda's asynchronous invocation of the deliverer: each wake-up
 * starts a run at once and the caller does not wait for it. Only cursors of
 * this test file's groups are woken here: test files share the tables, and
 * each file's runs should end with the file.
 */
export class InProcessWaker implements Waker {
  deliverer?: Deliverer;
  readonly woken: CursorRef[] = [];
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly owns: (cursor: string) => boolean,
    private readonly budgetMs = 10_000,
  ) {}

  async wake(refs: readonly CursorRef[]): Promise<void> {
    for (const ref of refs) {
      if (!this.owns(ref.cursor) || !this.deliverer) continue;
      this.woken.push(ref);
      const run = this.deliverer.deliver(ref, this.budgetMs).catch((error) => {
        console.error('delivery run failed', ref, error);
      });
      this.running.add(run);
      run.finally(() => this.running.delete(run));
    }
  }

  /** Waits for every run started so far, and those they hand off to. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}

export interface DeliveryHarness {
  readonly core: BusCore;
  readonly delivery: DispatcherRole & { readonly deliverer: Deliverer };
  readonly waker: InProcessWaker;
  /** The lease-wake queue, when the harness was asked for one. */
  readonly leaseWakes?: LocalDelayQueue;
  stop(): Promise<void>;
}

/**
 * The delivery side as deployed: the dispatcher on the log table's stream
 * (through the local stream poller) and on a schedule, waking deliverers;
 * with `leaseWakes`, on the lease-wake queue too (local mode's delay queue).
 * `sweepEveryMs: 0` turns the sweep off, as a test of what AWS does between
 * its minutely sweeps needs.
 */
export function startDelivery(
  owns: (cursor: string) => boolean,
  options: { sweepEveryMs?: number; env?: NodeJS.ProcessEnv; budgetMs?: number; leaseWakes?: boolean } = {},
): DeliveryHarness {
  const waker = new InProcessWaker(owns, options.budgetMs);
  const leaseWakes = options.leaseWakes ? new LocalDelayQueue({ retryMs: 1_000 }) : undefined;
  const core = createBusCore({
    env: { ...process.env, ...DELIVERY_TEST_ENV, ...options.env },
    waker,
    delayedWaker: leaseWakes,
  });
  // The dispatcher sees only this file's groups, as the waker wakes only theirs: the tables hold every
  // test file's subscriptions, and sweeping them all from every file would only load the emulator.
  const scoped = new (class extends SubscriptionRegistry {
    override async list() {
      return (await super.list()).filter((subscription) => owns(subscription.group));
    }
  })(core.clients.dynamo, core.config.registryTable);
  const delivery = {
    ...createDispatcherRole(core),
    dispatcher: new Dispatcher({ ...core, subscriptions: scoped }),
    deliverer: createDelivererRole(core).deliverer,
  };
  waker.deliverer = delivery.deliverer;
  leaseWakes?.consumeWith(createDispatcherHandler(delivery));
  const poller = new StreamPoller({
    dynamo: new DynamoDBClient({}),
    streams: new DynamoDBStreamsClient({}),
    table: testConfig().logTable,
    handler: createDispatcherHandler(delivery),
    batchSize: 100,
    eventNames: ['INSERT'],
    idleMs: 50,
  });
  poller.start();
  const sweepEveryMs = options.sweepEveryMs ?? 500;
  const timer =
    sweepEveryMs > 0
      ? setInterval(() => {
          delivery.dispatcher.sweep().catch(() => {});
        }, sweepEveryMs)
      : undefined;
  return {
    core,
    delivery,
    waker,
    leaseWakes,
    async stop() {
      clearInterval(timer);
      leaseWakes?.stop();
      await poller.stop();
      await waker.idle();
    },
  };
}

export interface ReceivedBatch {
  readonly batch: DeliveryBatch;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly at: number;
}

/** What a test's webhook answers a batch. */
export interface WebhookAnswer {
  readonly status: number;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly batches: ReceivedBatch[];
  /** Decides each answer: status, body and headers; the default accepts everything. */
  answer: (batch: DeliveryBatch) => Promise<WebhookAnswer> | WebhookAnswer;
  /** Offsets received for a partition, in arrival order. */
  offsets(partition?: number): number[];
  /** Resolves once `predicate` holds for what was received (polls; fails after `timeoutMs`). */
  until(predicate: (receiver: WebhookReceiver) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A webhook target on loopback that records every signed batch it gets (and rejects bad signatures). */
export async function startWebhookReceiver(secret?: () => string | undefined): Promise<WebhookReceiver> {
  const batches: ReceivedBatch[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    batches,
    answer: () => ({ status: 200 }),
    offsets(partition) {
      return batches
        .filter((b) => partition === undefined || b.batch.partition === partition)
        .flatMap((b) => b.batch.events.map((e) => e.offset));
    },
    async until(predicate, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(receiver)) {
        if (Date.now() > deadline) {
          throw new Error(
            `webhook receiver: condition not met in ${timeoutMs} ms; got ${batches.length} batches`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const key = secret?.();
      if (key) {
        try {
          new Webhook(key).verify(body, request.headers as Record<string, string>);
        } catch {
          response.writeHead(401).end('bad signature');
          return;
        }
      }
      const batch = JSON.parse(body) as DeliveryBatch;
      const answer = await receiver.answer(batch);
      if (answer.status >= 200 && answer.status < 300) {
        batches.push({ batch, headers: request.headers, body, at: Date.now() });
      }
      response
        .writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
        .end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (receiver as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}

/** A topic with one partition, a group reading it from the start, and a deliverer that records what it sends. */
export async function subscribedTopic(retentionHours = 24) {
  const core = createBusCore({
    env: { ...process.env, ...DELIVERY_TEST_ENV },
    waker: { wake: async () => {} },
  });
  const topic = uniqueTopic('group');
  await core.topics.create({ name: topic, partitions: 1, retentionHours });
  const group = await createGroup(core, topic);
  const received: DeliveryBatch[] = [];
  const deliverer = testDeliverer(core, {
    deliver: async (batch: OutgoingBatch) => {
      received.push(JSON.parse(batch.body) as DeliveryBatch);
      return { status: 'delivered' as const };
    },
  });
  const ref = { cursor: group, partition: 0 };
  return {
    topic,
    received,
    deliver: () => deliverer.deliver(ref, 30_000),
    delivered: () => received.flatMap((b) => b.events.map((e) => e.offset)),
    committed: async () => (await core.cursors.read(ref))?.committed,
  };
}

/**
 * A deliverer as one invocation has it, on `core`'s log and registries, delivering to `target`, with a
 * waker that hands nothing on; `options` replace any part (the cursors' client, the clock, …).
 */
export function testDeliverer(
  core: BusCore,
  target: DeliveryTargetClient,
  options: Partial<DelivererOptions> = {},
): Deliverer {
  return new Deliverer({
    log: core.log,
    cursors: core.cursors,
    subscriptions: core.subscriptions,
    topics: core.topics,
    deadLetters: new DeadLetters(core.log, core.topics),
    targetFor: () => target,
    waker: { wake: async () => {} },
    ...options,
  });
}

/** The API and the delivery side on the test emulators, with webhook receivers subscribed through the API. */
export interface WebhookBus {
  /** Every group of the file starts with it, so only the file's deliverers run them. */
  readonly prefix: string;
  readonly api: TestApi;
  readonly harness: DeliveryHarness;
  /** A fresh group name under the prefix. */
  group(name: string): string;
  topicWith(partitions: number): Promise<string>;
  /** A webhook receiver subscribed as a fresh group named after `name`; it verifies every signature with the secret the bus returned. */
  subscribe(
    topic: string,
    options?: Record<string, unknown>,
    name?: string,
  ): Promise<{ receiver: WebhookReceiver; group: string; secret: string; body: any }>;
  publish(topic: string, events: unknown[]): Promise<{ partition: number; offset: number }[]>;
}

/**
 * Starts (in `beforeAll`) and stops (in `afterAll`) an API and the delivery side for one test file,
 * whose groups all start with `<name>-<random>`; call it at the file's top level.
 *
 * @example
 * const bus = useWebhookBus('route');
 * const { receiver } = await bus.subscribe(await bus.topicWith(1), { filter });
 */
export function useWebhookBus(name: string): WebhookBus {
  const prefix = `${name}-${randomUUID().slice(0, 6)}`;
  let harness: DeliveryHarness | undefined;
  let api: TestApi | undefined;
  const receivers: WebhookReceiver[] = [];
  beforeAll(async () => {
    harness = startDelivery((cursor) => cursor.startsWith(prefix));
    api = await startTestApi(undefined, {
      env: { ...process.env, ...DELIVERY_TEST_ENV },
      waker: harness.waker,
    });
  });
  afterAll(async () => {
    await harness?.stop();
    await api?.close();
    await Promise.all(receivers.map((r) => r.close()));
  });
  const started = () => {
    if (!api || !harness) throw new Error('useWebhookBus: used before its beforeAll ran');
    return { api, harness };
  };
  const bus: WebhookBus = {
    prefix,
    get api() {
      return started().api;
    },
    get harness() {
      return started().harness;
    },
    group: (groupName) => `${prefix}-${groupName}-${randomUUID().slice(0, 4)}`,
    async topicWith(partitions) {
      const topic = uniqueTopic();
      const res = await bus.api.request('PUT', `/topics/${topic}`, {
        body: { partitions, retentionHours: 24 },
      });
      expect(res.status).toBe(201);
      return topic;
    },
    async subscribe(topic, options = {}, groupName = 'g') {
      let secret = '';
      const receiver = await startWebhookReceiver(() => secret);
      receivers.push(receiver);
      const group = bus.group(groupName);
      const res = await bus.api.request('PUT', `/subscriptions/${group}`, {
        body: { topic, target: { type: 'webhook', url: receiver.url }, ...options },
      });
      expect(res.status).toBe(201);
      expect(res.body.secret).toMatch(/^whsec_/);
      secret = res.body.secret;
      return { receiver, group, secret, body: res.body };
    },
    async publish(topic, events) {
      const res = await bus.api.request('POST', `/topics/${topic}/events`, { body: { events } });
      expect(res.status).toBe(200);
      return res.body.results;
    },
  };
  return bus;
}
