import {
  type EventPosition,
  type EventToPublish,
  type JsonValue,
  type PublishResult,
  partitionForKey,
} from '../protocol';
import { type EventBusError, InvalidRequestError, ProducerClosedError } from './errors';
import type { EventBusClient } from './event-bus-client';
import type { RetryOptions } from './retry';

export interface ProducerOptions {
  /**
   * How long an event may wait for others to join its request (Kafka's `linger.ms`). A request
   * leaves sooner when it is full.
   * @default 5
   */
  readonly lingerMs?: number;
  /**
   * Events per request, at most (the bus takes 1000 by default).
   * @default 500
   */
  readonly maxBatchEvents?: number;
  /**
   * Bytes of JSON per request, at most (the bus takes 6 MB); one larger event is sent alone.
   * @default 1048576
   */
  readonly maxBatchBytes?: number;
  /**
   * Requests in flight at once, over all partitions (each partition has at most one: see {@link Producer}).
   * @default 16
   */
  readonly maxInFlightRequests?: number;
  /**
   * How long a request keeps being retried before its events fail with the last error (Kafka's
   * `delivery.timeout.ms`).
   * @default 120000
   */
  readonly deliveryTimeoutMs?: number;
  /** Backoff of the retries; their number is bounded by `deliveryTimeoutMs`. */
  readonly retry?: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>;
}

/** What the producer has done so far. */
export interface ProducerStats {
  /** Publish requests acknowledged or failed (a request retried counts once). */
  readonly requests: number;
  /** Events acknowledged. */
  readonly acknowledged: number;
  /** Events that failed. */
  readonly failed: number;
}

/** An event sent and not yet settled; one object per event (the Producer's per-event cost is kept small). */
interface PendingEvent {
  readonly event: EventToPublish<unknown>;
  /** The event as sent, serialized: set once its partition is known. */
  json: string;
  bytes: number;
  readonly enqueuedAt: number;
  readonly resolve: (position: EventPosition) => void;
  readonly reject: (error: unknown) => void;
}

/** One partition's queue: at most one request of it in flight, so its events commit in the order sent. */
interface PartitionQueue {
  readonly events: PendingEvent[];
  bytes: number;
  inFlight: boolean;
}

interface TopicState {
  readonly name: string;
  partitions?: number;
  /** Events sent before the partition count was known, in the order sent. */
  readonly waiting: PendingEvent[];
  readonly queues: Map<number, PartitionQueue>;
  /** Where keyless events go now (Kafka's sticky partitioner): moves on each time its batch leaves. */
  sticky: number;
  timer?: ReturnType<typeof setTimeout>;
}

/** `{"events":[` and `]}` around the events and their commas. */
const BODY_OVERHEAD = 13;

/**
 * Publishes events in batches as Kafka's producer does. `send()` queues an
 * event on its partition — the explicit one, else the one its key hashes to
 * (Kafka's murmur2, as the bus computes it), else the sticky partition for
 * keyless events — and resolves with its partition and offset once the bus
 * has committed it. A request leaves when `lingerMs` has passed since its
 * oldest event, or once a partition holds `maxBatchEvents` or
 * `maxBatchBytes`; it carries every partition's waiting events that fit.
 *
 * Order: a partition never has two requests in flight, so its events
 * commit in the order they were sent, through retries too. Each request
 * has an `Idempotency-Key`, the same on every retry of it, so a retry after
 * a lost answer (or a 503 after some partitions committed) never appends an
 * event twice. 429, 503, 409 "in progress" and network errors are retried
 * with exponential backoff and jitter, honouring `Retry-After`, for up to
 * `deliveryTimeoutMs`; an answer a retry cannot help (400, 403, 404, 413)
 * fails the events of that request.
 *
 * @example
 * import { EventBusClient, Producer } from '@eventbus/client';
 *
 * const producer = new Producer(new EventBusClient({ url, key }), { lingerMs: 10 });
 * const { partition, offset } = await producer.send('orders', { key: 'order-1', value: { total: 42 } });
 * // or, without waiting for each:
 * for (const order of orders) producer.send('orders', { key: order.id, value: order }).catch(console.error);
 * await producer.close(); // sends what is queued and waits for it
 */
export class Producer {
  private readonly lingerMs: number;
  private readonly maxBatchEvents: number;
  private readonly maxBatchBytes: number;
  private readonly maxInFlight: number;
  private readonly retry: RetryOptions;
  private readonly topics = new Map<string, TopicState>();
  /** Prefix of this producer's idempotency keys: unique per producer, with a sequence number per request. */
  private readonly id = globalThis.crypto.randomUUID();
  private sequence = 0;
  private inFlight = 0;
  private unsettled = 0;
  private flushing = 0;
  private closed = false;
  private idle: (() => void)[] = [];
  private counts = { requests: 0, acknowledged: 0, failed: 0 };

  constructor(
    private readonly client: EventBusClient,
    options: ProducerOptions = {},
  ) {
    this.lingerMs = nonNegative('lingerMs', options.lingerMs ?? 5);
    this.maxBatchEvents = positive('maxBatchEvents', options.maxBatchEvents ?? 500);
    this.maxBatchBytes = positive('maxBatchBytes', options.maxBatchBytes ?? 1_048_576);
    this.maxInFlight = positive('maxInFlightRequests', options.maxInFlightRequests ?? 16);
    this.retry = {
      ...options.retry,
      retries: Number.POSITIVE_INFINITY,
      timeoutMs: nonNegative('deliveryTimeoutMs', options.deliveryTimeoutMs ?? 120_000),
    };
  }

  get stats(): ProducerStats {
    return { ...this.counts };
  }

  /**
   * Queues an event; resolves with its partition and offset once committed,
   * rejects with an {@link EventBusError} when its request failed for good.
   *
   * `V` types the value: with the type `eventbus schemas codegen` wrote for the
   * topic, a value that does not fit its schema does not compile.
   *
   * @example
   * const { offset } = await producer.send('orders', { key: 'order-1', value: { total: 42 } });
   * await producer.send<OrdersCreated>('orders.created', { key: 'o-1', value: { id: 'o-1', status: 'new' } });
   */
  send<V = JsonValue>(topic: string, event: EventToPublish<V>): Promise<EventPosition> {
    if (this.closed) return Promise.reject(new ProducerClosedError());
    if (event === null || typeof event !== 'object' || event.value === undefined) {
      return Promise.reject(
        new InvalidRequestError(400, 'INVALID_REQUEST', 'An event needs a "value" (any JSON).', {
          retryable: false,
        }),
      );
    }
    return new Promise<EventPosition>((resolve, reject) => {
      this.unsettled++;
      const pending: PendingEvent = { event, json: '', bytes: 0, enqueuedAt: Date.now(), resolve, reject };
      const state = this.topicState(topic);
      if (state.partitions === undefined) state.waiting.push(pending);
      else this.enqueue(state, pending);
    });
  }

  /**
   * Sends everything queued now, without waiting for `lingerMs`, and resolves once every event sent so
   * far is acknowledged or failed.
   *
   * @example
   * await producer.flush();
   */
  async flush(): Promise<void> {
    this.flushing++;
    try {
      this.pump();
      while (this.unsettled > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    } finally {
      this.flushing--;
    }
  }

  /**
   * Flushes, then refuses further sends with {@link ProducerClosedError}.
   *
   * @example
   * process.on('SIGTERM', () => producer.close().then(() => process.exit(0)));
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private acknowledge(pending: PendingEvent, position: EventPosition): void {
    this.counts.acknowledged++;
    this.settled();
    pending.resolve(position);
  }

  private fail(pending: PendingEvent, error: unknown): void {
    this.counts.failed++;
    this.settled();
    pending.reject(error);
  }

  private settled(): void {
    this.unsettled--;
    if (this.unsettled === 0) for (const wake of this.idle.splice(0)) wake();
  }

  /** The topic's state; its partition count is asked for once, and events wait for it in order. */
  private topicState(name: string): TopicState {
    let state = this.topics.get(name);
    if (state) return state;
    const created: TopicState = { name, waiting: [], queues: new Map(), sticky: 0 };
    this.topics.set(name, created);
    state = created;
    // With the client's own retries, not the delivery timeout's: a bus that is not there fails the sends in
    // seconds (as Kafka's max.block.ms bounds its metadata wait), rather than after deliveryTimeoutMs.
    this.client.describeTopic(name).then(
      (described) => {
        created.partitions = described.partitions.length;
        // Starts at random, as the bus does, so that producers spread out.
        created.sticky = Math.floor(Math.random() * described.partitions.length);
        for (const pending of created.waiting.splice(0)) this.enqueue(created, pending);
      },
      (error) => {
        // Forgotten, so a later send asks again (the topic may be created meanwhile).
        this.topics.delete(name);
        for (const pending of created.waiting.splice(0)) this.fail(pending, error);
      },
    );
    return state;
  }

  private enqueue(state: TopicState, pending: PendingEvent): void {
    const { event } = pending;
    const partitions = state.partitions as number;
    let partition: number;
    let json: string;
    let sticky = false;
    if (event.partition !== undefined && event.partition !== null) {
      if (!Number.isInteger(event.partition) || event.partition < 0 || event.partition >= partitions) {
        // Refused here: sent, it would fail the whole request and the other events in it.
        this.fail(
          pending,
          new InvalidRequestError(
            400,
            'INVALID_REQUEST',
            `partition must be an integer from 0 to ${partitions - 1} (topic "${state.name}" has ${partitions}).`,
            { retryable: false },
          ),
        );
        return;
      }
      partition = event.partition;
      json = JSON.stringify(event);
    } else if (event.key !== undefined && event.key !== null) {
      partition = partitionForKey(event.key, partitions);
      json = JSON.stringify(event);
    } else {
      // A keyless event is sent to the sticky partition explicitly: prefixed, rather than copied to add it.
      partition = state.sticky;
      sticky = true;
      const rest = JSON.stringify(event).slice(1);
      json = rest === '}' ? `{"partition":${partition}}` : `{"partition":${partition},${rest}`;
    }
    const bytes = utf8Length(json) + 1;
    pending.json = json;
    pending.bytes = bytes;
    let queue = state.queues.get(partition);
    if (!queue) {
      queue = { events: [], bytes: 0, inFlight: false };
      state.queues.set(partition, queue);
    }
    queue.events.push(pending);
    queue.bytes += bytes;
    const full = this.isFull(queue);
    if (sticky && full) this.moveSticky(state, partition);
    // Behind a request in flight, it leaves when that one is acknowledged; otherwise when full or lingered.
    if (queue.inFlight) return;
    if (full || this.flushing > 0 || this.lingerMs === 0) this.drain(state);
    else this.armTimer(state);
  }

  private isFull(queue: PartitionQueue): boolean {
    return queue.events.length >= this.maxBatchEvents || queue.bytes + BODY_OVERHEAD >= this.maxBatchBytes;
  }

  private moveSticky(state: TopicState, from: number): void {
    if (state.sticky === from) state.sticky = (from + 1) % (state.partitions as number);
  }

  /** Drains every topic: after a request ends, another topic may have been waiting for a slot. */
  private pump(): void {
    for (const state of this.topics.values()) this.drain(state);
  }

  /**
   * Sends requests while a slot is free and some partition without a request in flight is ready (full,
   * lingered long enough, or flushing); each request also takes the other free partitions' events that fit.
   * Otherwise sets the timer for when the oldest waiting event will have lingered enough.
   */
  private drain(state: TopicState): void {
    while (this.inFlight < this.maxInFlight) {
      const now = Date.now();
      const free = [...state.queues.entries()].filter(([, q]) => !q.inFlight && q.events.length > 0);
      if (free.length === 0) break;
      const ready = free.some(
        ([, q]) => this.flushing > 0 || this.isFull(q) || now - q.events[0].enqueuedAt >= this.lingerMs,
      );
      if (!ready) break;
      // The longest-waiting partitions first.
      free.sort(([, a], [, b]) => a.events[0].enqueuedAt - b.events[0].enqueuedAt);
      const batch: PendingEvent[] = [];
      const taken: [number, PartitionQueue][] = [];
      let bytes = BODY_OVERHEAD;
      for (const [partition, queue] of free) {
        let n = 0;
        while (
          n < queue.events.length &&
          batch.length < this.maxBatchEvents &&
          (batch.length === 0 || bytes + queue.events[n].bytes <= this.maxBatchBytes)
        ) {
          bytes += queue.events[n].bytes;
          batch.push(queue.events[n]);
          n++;
        }
        if (n === 0) break;
        for (const event of queue.events.splice(0, n)) queue.bytes -= event.bytes;
        queue.inFlight = true;
        taken.push([partition, queue]);
        this.moveSticky(state, partition);
      }
      this.sendBatch(state, batch, taken);
    }
    this.armTimer(state);
  }

  private armTimer(state: TopicState): void {
    if (state.timer) return;
    let oldest = Number.POSITIVE_INFINITY;
    for (const queue of state.queues.values()) {
      if (!queue.inFlight && queue.events.length > 0) oldest = Math.min(oldest, queue.events[0].enqueuedAt);
    }
    if (oldest === Number.POSITIVE_INFINITY) return;
    state.timer = setTimeout(
      () => {
        state.timer = undefined;
        this.drain(state);
      },
      Math.max(0, oldest + this.lingerMs - Date.now()),
    );
  }

  private sendBatch(state: TopicState, batch: PendingEvent[], taken: [number, PartitionQueue][]): void {
    this.inFlight++;
    const body = `{"events":[${batch.map((event) => event.json).join(',')}]}`;
    const idempotencyKey = `${this.id}-${++this.sequence}`;
    this.client
      .publishSerialized(state.name, body, { idempotencyKey, retry: this.retry })
      .then(
        (results) => {
          batch.forEach((pending, i) => {
            this.acknowledge(pending, results[i] as EventPosition);
          });
        },
        (error: EventBusError) => {
          // After its last retry, a 503 may still name the events that were committed: those succeeded.
          const results = error?.details?.results as PublishResult[] | undefined;
          batch.forEach((pending, i) => {
            const result = results?.[i];
            if (result && 'offset' in result) this.acknowledge(pending, result);
            else this.fail(pending, error);
          });
        },
      )
      .finally(() => {
        this.counts.requests++;
        this.inFlight--;
        for (const [, queue] of taken) queue.inFlight = false;
        this.pump();
      });
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}.`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0)) throw new RangeError(`${name} must be 0 or more, got ${value}.`);
  return value;
}

/** The UTF-8 length of `text` without encoding it: `Buffer.byteLength`, which browsers lack. */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    bytes += unit < 0x800 ? 1 : 2;
    // A surrogate pair is 4 bytes for its 2 units: the low half adds nothing more.
    const next = text.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
  }
  return bytes;
}
