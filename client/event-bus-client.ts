import type {
  CompatibilityMode,
  CreatedKey,
  CreatedSubscription,
  EventPage,
  EventPosition,
  EventToPublish,
  EventView,
  JsonValue,
  KeyList,
  KeyView,
  LatestSchema,
  NewKey,
  PublishAnswer,
  PublishResult,
  RedriveAnswer,
  ResetAnswer,
  RoutingTestAnswer,
  RoutingTestRequest,
  SchemaRegistered,
  SchemaVersion,
  Subscription,
  SubscriptionConfig,
  SubscriptionDescription,
  SubscriptionList,
  TopicConfig,
  TopicDescription,
  TopicList,
  TopicSummary,
} from '../protocol';
import { type EventBusError, errorFromAnswer, NetworkError, OffsetOutOfRangeError } from './errors';
import { backoffDelay, DEFAULT_RETRY, type RetryOptions, sleep } from './retry';

/** An event read back from a partition; `V` is what the reader takes its value to be (JSON by default). */
export type ConsumedEvent<V = JsonValue> = EventView<V>;

/** Where `resetOffsets` moves a group: the API's `to`, with a `Date` allowed for a timestamp. */
export type OffsetReset =
  | 'earliest'
  | 'latest'
  | { readonly timestamp: string | Date }
  | { readonly offsets: Readonly<Record<number, number>> };

export interface EventBusClientOptions {
  /** The bus's URL: `http://127.0.0.1:4000` locally, the Function URL on AWS. */
  readonly url: string;
  /** An API key (`eb_…`); only `health()` works without one. */
  readonly key?: string;
  /**
   * The `fetch` to send requests with (to add tracing, or count requests in a test).
   * @default globalThis.fetch
   */
  readonly fetch?: typeof fetch;
  /**
   * How long one attempt may wait for its answer before it counts as a network error (and is retried).
   * @default 30000
   */
  readonly requestTimeoutMs?: number;
  /** How retryable failures are retried: 429, 503 and network errors, for requests a retry cannot duplicate. */
  readonly retry?: RetryOptions;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's retry options for this call. */
  readonly retry?: RetryOptions;
}

export interface PublishOptions extends CallOptions {
  /**
   * The request's `Idempotency-Key`: a repeat within 24 h answers the first
   * result and appends nothing.
   * @default a random UUID, the same on every retry of this call
   */
  readonly idempotencyKey?: string;
}

/** Where a read starts: an offset, the first event at or after a time, or either end of the partition. */
export type ReadStart =
  | number
  | { readonly offset: number }
  | { readonly timestamp: string | Date }
  | 'earliest'
  | 'latest';

export interface ReadOptions {
  /** @default 'earliest' */
  readonly from?: ReadStart;
  /**
   * Events per request, 1 to 1000.
   * @default 100
   */
  readonly limit?: number;
  /** Keep waiting for new events at the end of the partition instead of ending there. */
  readonly follow?: boolean;
  /**
   * How long to wait at the end of the partition before asking again, with `follow`.
   * @default 1000
   */
  readonly pollIntervalMs?: number;
  /** Stops the iteration (a `follow` read ends only so, or by `break`). */
  readonly signal?: AbortSignal;
}

interface RequestSpec {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query?: Record<string, string | number | undefined>;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** The body already serialized as JSON (the Producer builds its batches so). */
  readonly rawBody?: string;
  /** Whether sending it twice has the effect of sending it once: only those are retried. */
  readonly idempotent: boolean;
  /** Return error answers instead of throwing them (health). */
  readonly answerErrors?: boolean;
}

interface Answer<T> {
  readonly status: number;
  readonly body: T;
}

/**
 * A typed client for the bus's HTTP API (API.md), built on `fetch` alone, so
 * it runs in Node 20+ and in Lambda. Requests a retry cannot duplicate
 * (reads, `PUT`s, `DELETE`s, offset resets and publishes, which always carry
 * an `Idempotency-Key`) are retried on 429, 503 and network errors with
 * exponential backoff and jitter, honouring `Retry-After`. Errors are
 * {@link EventBusError}s typed by the API's `code`.
 *
 * @example
 * import { EventBusClient } from '@eventbus/client';
 *
 * const bus = new EventBusClient({ url: 'http://127.0.0.1:4000', key: process.env.EVENTBUS_KEY });
 * await bus.createTopic('orders', { partitions: 3, retentionHours: 168 });
 * const [position] = await bus.publish('orders', [{ key: 'order-1', value: { total: 42 } }]);
 * for await (const event of bus.read('orders', position.partition, { from: 0 })) console.log(event.value);
 */
export class EventBusClient {
  readonly url: string;
  private readonly key?: string;
  private readonly fetch: typeof fetch;
  private readonly requestTimeoutMs: number;
  private readonly retry: Required<RetryOptions>;

  constructor(options: EventBusClientOptions) {
    if (!/^https?:\/\//.test(options.url)) {
      throw new TypeError(`The bus URL must start with http:// or https://, got "${options.url}".`);
    }
    this.url = options.url.replace(/\/+$/, '');
    this.key = options.key;
    // Bound: a browser refuses `fetch` called as another object's method ("Illegal invocation").
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /**
   * `GET /health`: whether the bus can take events (its storage answers). Needs no key; never throws for a 503.
   *
   * @example
   * const { ok, dependencies } = await bus.health();
   */
  async health(
    options: CallOptions = {},
  ): Promise<{ ok: boolean; status: string; dependencies: Record<string, string> }> {
    const { status, body } = await this.call<{ status: string; dependencies: Record<string, string> }>(
      { method: 'GET', path: '/health', idempotent: true, answerErrors: true },
      { ...options, retry: { retries: 0 } },
    );
    return { ok: status === 200, status: body?.status ?? 'down', dependencies: body?.dependencies ?? {} };
  }

  // --- Topics ---

  /**
   * `PUT /topics/{topic}`: creates a topic; `created` is false when it exists with this configuration.
   * A different configuration throws {@link ConflictError}.
   *
   * @example
   * const { created } = await bus.createTopic('orders', { partitions: 3, retentionHours: 168 });
   */
  async createTopic(
    name: string,
    config: TopicConfig,
    options: CallOptions = {},
  ): Promise<{ created: boolean; topic: TopicSummary }> {
    const { status, body } = await this.call<TopicSummary>(
      { method: 'PUT', path: `/topics/${segment(name)}`, body: config, idempotent: true },
      options,
    );
    return { created: status === 201, topic: body };
  }

  /**
   * `GET /topics`: the topics this key may read.
   *
   * @example
   * for (const { name, partitions } of await bus.listTopics()) console.log(name, partitions);
   */
  async listTopics(options: CallOptions = {}): Promise<TopicSummary[]> {
    const { body } = await this.call<TopicList>(
      { method: 'GET', path: '/topics', idempotent: true },
      options,
    );
    return body.topics;
  }

  /**
   * `GET /topics/{topic}`: its configuration and each partition's retained offsets.
   *
   * @example
   * const { partitions } = await bus.describeTopic('orders');
   * const total = partitions.reduce((n, p) => n + p.endOffset - p.startOffset, 0);
   */
  async describeTopic(name: string, options: CallOptions = {}): Promise<TopicDescription> {
    const { body } = await this.call<TopicDescription>(
      { method: 'GET', path: `/topics/${segment(name)}`, idempotent: true },
      options,
    );
    return body;
  }

  // --- Schemas ---

  /**
   * `PUT /topics/{topic}/schema`: registers the topic's next schema version
   * (or finds it equals the latest). A change that breaks the topic's
   * compatibility mode is refused with SCHEMA_INCOMPATIBLE and its reasons.
   *
   * @example
   * const { version } = await bus.registerSchema('orders', { type: 'object', required: ['id'] });
   */
  async registerSchema(
    topic: string,
    schema: unknown,
    compatibility?: CompatibilityMode,
    options: CallOptions = {},
  ): Promise<SchemaRegistered & { created: boolean }> {
    const { status, body } = await this.call<SchemaRegistered>(
      {
        method: 'PUT',
        path: `/topics/${segment(topic)}/schema`,
        body: compatibility ? { schema, compatibility } : { schema },
        idempotent: true,
      },
      options,
    );
    return { ...body, created: status === 201 };
  }

  /**
   * The topic's latest schema (`GET /topics/{topic}/schema`), or one version.
   *
   * @example
   * const { version, schema } = await bus.getSchema('orders');
   */
  async getSchema(topic: string, version?: number, options: CallOptions = {}): Promise<SchemaVersion> {
    const path =
      version === undefined
        ? `/topics/${segment(topic)}/schema`
        : `/topics/${segment(topic)}/schema/versions/${version}`;
    const { body } = await this.call<LatestSchema>({ method: 'GET', path, idempotent: true }, options);
    return body;
  }

  /** `GET /topics/{topic}/schema/versions`: every version, oldest first. */
  async listSchemaVersions(
    topic: string,
    options: CallOptions = {},
  ): Promise<{ version: number; createdAt: string }[]> {
    const { body } = await this.call<{ versions: { version: number; createdAt: string }[] }>(
      { method: 'GET', path: `/topics/${segment(topic)}/schema/versions`, idempotent: true },
      options,
    );
    return body.versions;
  }

  // --- Publish and read ---

  /**
   * `POST /topics/{topic}/events`: publishes events in one request and
   * resolves with where each landed, in order, once all are committed. The
   * request carries an `Idempotency-Key` (yours, or a random one), the same
   * on every retry, so a retry never appends twice. For many events, the
   * {@link Producer} batches them for you.
   *
   * `V` types the values: with the type `eventbus schemas codegen` wrote for
   * the topic, a value that does not fit its schema does not compile.
   *
   * @example
   * const positions = await bus.publish('orders', [{ key: 'order-1', value: { total: 42 } }]);
   * await bus.publish<OrdersCreated>('orders.created', [{ key: 'o-1', value: { id: 'o-1', status: 'new' } }]);
   */
  async publish<V = JsonValue>(
    topic: string,
    events: readonly EventToPublish<V>[],
    options: PublishOptions = {},
  ): Promise<EventPosition[]> {
    const { body } = await this.call<PublishAnswer>(
      {
        method: 'POST',
        path: `/topics/${segment(topic)}/events`,
        body: { events },
        headers: { 'idempotency-key': options.idempotencyKey ?? globalThis.crypto.randomUUID() },
        idempotent: true,
      },
      options,
    );
    return body.results as EventPosition[];
  }

  /**
   * `publish` for a body already serialized as `{"events": […]}`, so the
   * Producer does not serialize its events twice.
   * @internal
   */
  async publishSerialized(
    topic: string,
    body: string,
    options: PublishOptions & { idempotencyKey: string },
  ): Promise<PublishResult[]> {
    const answer = await this.call<PublishAnswer>(
      {
        method: 'POST',
        path: `/topics/${segment(topic)}/events`,
        rawBody: body,
        headers: { 'idempotency-key': options.idempotencyKey },
        idempotent: true,
      },
      options,
    );
    return answer.body.results;
  }

  /**
   * One page of a partition: `GET /topics/{topic}/partitions/{p}/events`
   * from an offset or a time. Past the end the page is empty;
   * below the oldest retained offset it throws {@link OffsetOutOfRangeError}.
   *
   * @example
   * const { events, nextOffset } = await bus.readPage('orders', 0, { offset: 0, limit: 500 });
   */
  async readPage(
    topic: string,
    partition: number,
    at: { offset: number; limit?: number } | { timestamp: string | Date; limit?: number },
    options: CallOptions = {},
  ): Promise<EventPage> {
    const query =
      'offset' in at
        ? { offset: at.offset, limit: at.limit }
        : { timestamp: isoTime(at.timestamp), limit: at.limit };
    const { body } = await this.call<EventPage>(
      {
        method: 'GET',
        path: `/topics/${segment(topic)}/partitions/${partition}/events`,
        query,
        idempotent: true,
      },
      options,
    );
    return body;
  }

  /**
   * Reads a partition in offset order, page after page (each starts at the
   * last one's `nextOffset`), from an offset, a time or either end. Without
   * `follow` it ends at the end of the partition; with it, it waits for new
   * events until `signal` aborts or the loop breaks. `from: 'earliest'`
   * starts at the oldest retained event even if retention moved it.
   *
   * `V` is what the values are taken to be (not checked: the topic's schema is what guarantees it).
   *
   * @example
   * for await (const event of bus.read('orders', 0, { from: { timestamp: '2026-11-24T00:00:00Z' } })) {
   *   console.log(event.offset, event.key, event.value);
   * }
   * for await (const { value } of bus.read<OrdersCreated>('orders.created', 0)) console.log(value.status);
   */
  async *read<V = JsonValue>(
    topic: string,
    partition: number,
    options: ReadOptions = {},
  ): AsyncGenerator<ConsumedEvent<V>> {
    const from = options.from ?? 'earliest';
    const limit = options.limit;
    const call = { signal: options.signal };
    let offset: number;
    let page: EventPage;
    if (from === 'latest') {
      const described = await this.describeTopic(topic, call);
      offset = described.partitions.find((p) => p.partition === partition)?.endOffset ?? 0;
      page = await this.readPage(topic, partition, { offset, limit }, call);
    } else if (typeof from === 'object' && 'timestamp' in from) {
      page = await this.readPage(topic, partition, { timestamp: from.timestamp, limit }, call);
    } else {
      offset = from === 'earliest' ? 0 : typeof from === 'number' ? from : from.offset;
      try {
        page = await this.readPage(topic, partition, { offset, limit }, call);
      } catch (error) {
        // Retention may have removed the oldest events since: 'earliest' means the oldest there is.
        if (!(from === 'earliest' && error instanceof OffsetOutOfRangeError)) throw error;
        page = await this.readPage(topic, partition, { offset: error.startOffset, limit }, call);
      }
    }
    for (;;) {
      yield* page.events as readonly EventView<unknown>[] as readonly ConsumedEvent<V>[];
      if (page.events.length === 0) {
        if (!options.follow) return;
        await sleep(options.pollIntervalMs ?? 1_000, options.signal);
      }
      page = await this.readPage(topic, partition, { offset: page.nextOffset, limit }, call);
    }
  }

  // --- Subscriptions ---

  /**
   * `PUT /subscriptions/{group}`: creates a consumer group on a topic with a
   * target. `created` is false when it exists with this configuration; a
   * webhook's signing `secret` is in the answer that created it, only.
   *
   * @example
   * const { subscription } = await bus.putSubscription('billing', {
   *   topic: 'orders', target: { type: 'webhook', url: 'https://billing.example/hook' }, startFrom: 'earliest',
   * });
   */
  async putSubscription(
    group: string,
    config: SubscriptionConfig,
    options: CallOptions = {},
  ): Promise<{ created: boolean; subscription: CreatedSubscription }> {
    const { status, body } = await this.call<CreatedSubscription>(
      { method: 'PUT', path: `/subscriptions/${segment(group)}`, body: config, idempotent: true },
      options,
    );
    return { created: status === 201, subscription: body };
  }

  /**
   * `GET /subscriptions/{group}`: its configuration and, per partition,
   * committed and end offsets, lag, attempts and last error.
   *
   * @example
   * const { partitions } = await bus.getSubscription('billing');
   * const lag = partitions.reduce((n, p) => n + p.lag, 0);
   */
  async getSubscription(group: string, options: CallOptions = {}): Promise<SubscriptionDescription> {
    const { body } = await this.call<SubscriptionDescription>(
      { method: 'GET', path: `/subscriptions/${segment(group)}`, idempotent: true },
      options,
    );
    return body;
  }

  /**
   * `GET /subscriptions`: the subscriptions on topics this key may read.
   *
   * @example
   * const groups = (await bus.listSubscriptions()).map((s) => s.group);
   */
  async listSubscriptions(options: CallOptions = {}): Promise<Subscription[]> {
    const { body } = await this.call<SubscriptionList>(
      { method: 'GET', path: '/subscriptions', idempotent: true },
      options,
    );
    return body.subscriptions;
  }

  /**
   * `POST /subscriptions/{group}/offsets`: moves the group (replay or skip);
   * resolves with each partition's new committed offset.
   *
   * @example
   * await bus.resetOffsets('billing', 'earliest');                         // replay everything retained
   * await bus.resetOffsets('billing', { timestamp: new Date(Date.now() - 3_600_000) });
   * await bus.resetOffsets('billing', { offsets: { 0: 42 } });
   */
  async resetOffsets(
    group: string,
    to: OffsetReset,
    options: CallOptions = {},
  ): Promise<{ partition: number; committedOffset: number }[]> {
    const wire = typeof to === 'object' && 'timestamp' in to ? { timestamp: isoTime(to.timestamp) } : to;
    const { body } = await this.call<ResetAnswer>(
      {
        method: 'POST',
        path: `/subscriptions/${segment(group)}/offsets`,
        body: { to: wire },
        idempotent: true,
      },
      options,
    );
    return body.partitions;
  }

  /**
   * `POST /subscriptions/{group}/redrive`: delivers the group's dead letters
   * (topic `<group>.dlq`) to its target again; resolves with how many. Not
   * retried: a second redrive would deliver them again.
   *
   * @example
   * const { deadLetters } = await bus.redrive('billing');
   */
  async redrive(group: string, options: CallOptions = {}): Promise<{ deadLetters: number }> {
    const { body } = await this.call<RedriveAnswer>(
      { method: 'POST', path: `/subscriptions/${segment(group)}/redrive`, idempotent: false },
      options,
    );
    return body;
  }

  /**
   * `DELETE /subscriptions/{group}`: the group receives nothing more and its offsets are forgotten.
   *
   * @example
   * await bus.deleteSubscription('billing');
   */
  async deleteSubscription(group: string, options: CallOptions = {}): Promise<void> {
    await this.call(
      { method: 'DELETE', path: `/subscriptions/${segment(group)}`, idempotent: true },
      options,
    );
  }

  /**
   * `POST /routing/test`: what a filter, a transform and a topic target's key
   * would make of sample events, or of a topic's retained events (needs `read`
   * on it), without delivering or writing anything. Invalid routing throws the
   * same {@link InvalidRequestError} as `putSubscription`.
   *
   * @example
   * const { counts, results } = await bus.testRouting({
   *   filter: { value: { total: [{ numeric: ['>', 100] }] } },
   *   transform: { jsonata: '{"id": key, "total": value.total}' },
   *   topic: 'orders', limit: 1000,
   * });
   */
  async testRouting(test: RoutingTestRequest, options: CallOptions = {}): Promise<RoutingTestAnswer> {
    const { body } = await this.call<RoutingTestAnswer>(
      { method: 'POST', path: '/routing/test', body: test, idempotent: true },
      options,
    );
    return body;
  }

  // --- Keys ---

  /**
   * `POST /keys`: a new API key with an ACL. The key is in this answer only. Not retried (a retry could make two).
   *
   * @example
   * const { id, key } = await bus.createKey({ acl: [{ topics: 'orders*', permissions: ['publish'] }], description: 'checkout' });
   */
  async createKey(newKey: NewKey, options: CallOptions = {}): Promise<CreatedKey> {
    const { body } = await this.call<CreatedKey>(
      { method: 'POST', path: '/keys', body: newKey, idempotent: false },
      options,
    );
    return body;
  }

  /**
   * `GET /keys`: every key's id, ACL, description and creation time (never the key).
   *
   * @example
   * const ids = (await bus.listKeys()).map((k) => k.id);
   */
  async listKeys(options: CallOptions = {}): Promise<KeyView[]> {
    const { body } = await this.call<KeyList>({ method: 'GET', path: '/keys', idempotent: true }, options);
    return body.keys;
  }

  /**
   * `DELETE /keys/{id}`: the key stops working (at once where revoked, within 60 s everywhere).
   *
   * @example
   * await bus.revokeKey(id);
   */
  async revokeKey(id: string, options: CallOptions = {}): Promise<void> {
    await this.call({ method: 'DELETE', path: `/keys/${segment(id)}`, idempotent: true }, options);
  }

  // --- Transport ---

  /** Sends a request, retrying what a retry cannot duplicate; an error answer becomes an EventBusError. */
  private async call<T>(spec: RequestSpec, options: CallOptions): Promise<Answer<T>> {
    const retry = { ...this.retry, ...options.retry };
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt<T>(spec, options.signal);
      } catch (error) {
        const busError = error as EventBusError;
        const canRetry =
          busError.retryable === true &&
          // A non-idempotent request is retried only when the bus certainly did not act on it.
          (spec.idempotent || busError.status === 429) &&
          attempt < retry.retries;
        if (!canRetry) throw error;
        const delay = backoffDelay(attempt, busError, retry);
        if (Date.now() - started + delay > retry.timeoutMs) throw error;
        await sleep(delay, options.signal);
      }
    }
  }

  private async attempt<T>(spec: RequestSpec, signal?: AbortSignal): Promise<Answer<T>> {
    const url = new URL(this.url + spec.path);
    for (const [name, value] of Object.entries(spec.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json', ...spec.headers };
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    const body = spec.rawBody ?? (spec.body === undefined ? undefined : JSON.stringify(spec.body));
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await this.fetch(url, {
        method: spec.method,
        headers,
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await response.text();
    } catch (error) {
      // The caller's own abort is not a failure to retry.
      if (signal?.aborted) throw signal.reason;
      const why = timeout.aborted
        ? `no answer within ${this.requestTimeoutMs} ms`
        : describeNetworkFailure(error);
      throw new NetworkError(
        `${spec.method} ${url.origin}${spec.path} failed: ${why}. Is the bus running at ${this.url}?`,
        error,
      );
    }
    let answer: unknown;
    try {
      answer = text === '' ? undefined : JSON.parse(text);
    } catch {
      answer = undefined;
    }
    if (response.status >= 300 && !spec.answerErrors) {
      throw errorFromAnswer(response.status, answer, response.headers.get('retry-after'));
    }
    return { status: response.status, body: answer as T };
  }
}

/** A name as one URL path segment. */
function segment(name: string): string {
  return encodeURIComponent(name);
}

function isoTime(time: string | Date): string {
  return time instanceof Date ? time.toISOString() : time;
}

/** `fetch failed` says nothing: name the system error underneath (ECONNREFUSED, ECONNRESET, …). */
function describeNetworkFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
