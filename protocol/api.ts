/**
 * The HTTP API's request and answer bodies (docs/api.md), as the wire carries
 * them (answers' lists are mutable: the caller owns them). The server's schemas (functions/api/contract/schemas.ts) validate
 * and document the same shapes; test/protocol/contract.test.ts fails the
 * type check when the two disagree.
 */

import type { ErrorCode } from './error-codes';
import type { EventView } from './event-view';
import type { JsonValue } from './json-value';

export type Permission = 'publish' | 'read' | 'admin';

/** One ACL entry of an API key: topic (or group) name patterns and what the key may do on them. */
export interface AclEntry {
  /** A name pattern, `*` matching any run of characters: `orders*`. */
  readonly topics: string;
  readonly permissions: readonly Permission[];
}

/** An error answer: `{"error": {"code", "message"}}`; some codes add members (`startOffset`). */
export interface ErrorAnswer {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly [detail: string]: unknown;
  };
}

// ---------------------------------------------------------------- topics

/** `PUT /topics/{topic}`'s body. */
export interface TopicConfig {
  readonly partitions: number;
  readonly retentionHours: number;
}

export interface TopicSummary extends TopicConfig {
  readonly name: string;
  /** Set on a dead-letter topic: the group whose it is. Only the bus appends to it. */
  readonly deadLetterOf?: string;
}

/** `GET /topics`'s answer. */
export interface TopicList {
  readonly topics: TopicSummary[];
}

export interface PartitionRange {
  readonly partition: number;
  /** The oldest retained offset. */
  readonly startOffset: number;
  /** The offset the next event will get. */
  readonly endOffset: number;
}

/** `GET /topics/{topic}`'s answer. */
export interface TopicDescription {
  readonly name: string;
  readonly partitions: readonly PartitionRange[];
  readonly retentionHours: number;
}

// ---------------------------------------------------------------- publish

/**
 * What a producer sends: a value, and optionally a key (which picks the partition), headers or a partition.
 * `V` is the value's type (a type `eventbus schemas codegen` wrote for the topic, say): JSON by default.
 */
export interface EventToPublish<V = JsonValue> {
  readonly key?: string | null;
  readonly value: V;
  readonly headers?: Readonly<Record<string, string>> | null;
  /** An explicit partition; otherwise the key decides, or the bus (or the Producer) picks one. */
  readonly partition?: number | null;
}

/** `POST /topics/{topic}/events`'s JSON body. */
export interface PublishRequest {
  readonly events: readonly EventToPublish[];
}

/** Where a published event landed. */
export interface EventPosition {
  readonly partition: number;
  readonly offset: number;
}

/** One entry of a publish answer: where the event landed, or why its partition could not be written. */
export type PublishResult =
  | EventPosition
  | { readonly partition: number; readonly error: { readonly code: ErrorCode; readonly message: string } };

/** `POST /topics/{topic}/events`'s answer: one result per event, in request order. */
export interface PublishAnswer {
  readonly results: PublishResult[];
}

// ---------------------------------------------------------------- read

/** One page of a partition, as `GET …/partitions/{p}/events` answers it. */
export interface EventPage {
  readonly events: readonly EventView[];
  /** Where the next read starts. */
  readonly nextOffset: number;
}

// ---------------------------------------------------------------- subscriptions

export type SubscriptionTarget =
  | { readonly type: 'lambda'; readonly function: string }
  | { readonly type: 'webhook'; readonly url: string }
  /**
   * Appends each matching (and transformed) event to another topic, exactly once, with the header
   * `eventbus-origin: <topic>/<partition>/<offset>`; keyed by the source key unless `key`, a JSONata
   * expression over the transform's input, computes another.
   */
  | { readonly type: 'topic'; readonly topic: string; readonly key?: string };

/** `PUT /subscriptions/{group}`'s body. */
export interface SubscriptionConfig {
  readonly topic: string;
  readonly target: SubscriptionTarget;
  /** @default 100 */
  readonly batchSize?: number;
  /** @default 5 */
  readonly maxAttempts?: number;
  readonly maxAgeSeconds?: number;
  /** @default 'latest' */
  readonly startFrom?: 'latest' | 'earliest';
  /** @default 'at-least-once' */
  readonly delivery?: 'at-least-once' | 'at-most-once';
  /** @default 10 for a webhook, 60 for a Lambda function */
  readonly timeoutSeconds?: number;
  /** Webhooks only: the signing secret (`whsec_…`) to use instead of a new one. */
  readonly secret?: string;
  /** An EventBridge event pattern over `{key, value, headers}`: only matching events are delivered. */
  readonly filter?: Record<string, unknown>;
  /** A JSONata expression whose result is the value the target receives. */
  readonly transform?: { readonly jsonata: string };
}

/** A subscription as the bus answers it, defaults filled in. */
export interface Subscription {
  readonly group: string;
  readonly topic: string;
  readonly target: SubscriptionTarget;
  readonly batchSize: number;
  readonly maxAttempts: number;
  readonly maxAgeSeconds?: number;
  readonly startFrom: 'latest' | 'earliest';
  readonly delivery: 'at-least-once' | 'at-most-once';
  readonly timeoutSeconds: number;
  readonly filter?: Record<string, unknown>;
  readonly transform?: { readonly jsonata: string };
}

/** `PUT /subscriptions/{group}`'s answer. */
export interface CreatedSubscription extends Subscription {
  /** A webhook subscription's signing secret (`whsec_…`): only in the answer that created it. */
  readonly secret?: string;
}

/** `GET /subscriptions`'s answer. */
export interface SubscriptionList {
  readonly subscriptions: Subscription[];
}

/** Where a group stands on one partition. */
export interface SubscriptionPartition {
  readonly partition: number;
  readonly committedOffset: number;
  readonly endOffset: number;
  readonly lag: number;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly retryAt?: string;
  /** Set while the target throttles: when the whole batch is sent again (its `Retry-After`). */
  readonly throttledUntil?: string;
  /** Age of the oldest undelivered event. */
  readonly oldestEventAgeMs: number;
}

/** `GET /subscriptions/{group}`'s answer. */
export interface SubscriptionDescription extends Subscription {
  readonly partitions: readonly SubscriptionPartition[];
}

/** `POST /subscriptions/{group}/offsets`'s body: where to move the group. */
export interface ResetRequest {
  readonly to:
    | 'earliest'
    | 'latest'
    | { readonly timestamp: string }
    | { readonly offsets: Readonly<Record<string, number>> };
}

/** `POST /subscriptions/{group}/offsets`'s answer. */
export interface ResetAnswer {
  readonly partitions: { readonly partition: number; readonly committedOffset: number }[];
}

/** `POST /subscriptions/{group}/redrive`'s answer. */
export interface RedriveAnswer {
  /** Dead letters this redrive delivers again. */
  readonly deadLetters: number;
}

// ---------------------------------------------------------------- routing

/** A sample event for `POST /routing/test`. */
export interface SampleEvent {
  readonly key?: string | null;
  readonly value: JsonValue;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * `POST /routing/test`'s body: a subscription's routing (as `PUT /subscriptions` takes it, a topic
 * target's `key` on its own) and what to try it on: sample `events`, or the events retained in `topic`.
 */
export interface RoutingTestRequest {
  readonly filter?: Record<string, unknown>;
  readonly transform?: { readonly jsonata: string };
  /** A topic target's key expression (JSONata). */
  readonly key?: string;
  readonly events?: readonly SampleEvent[];
  /** Without `events`: the topic whose retained events are tried. With them: the topic the transform sees. */
  readonly topic?: string;
  /** Where reading `topic` starts. @default 'earliest' */
  readonly from?:
    | 'earliest'
    | { readonly timestamp: string }
    | { readonly offsets: Readonly<Record<string, number>> };
  /** Events of `topic` read at most, 1 to 1000. @default 100 */
  readonly limit?: number;
}

/** What routing does with one event tried. */
export interface RoutingTestResult {
  /** A sample's index. */
  readonly index?: number;
  /** A retained event's partition and offset. */
  readonly partition?: number;
  readonly offset?: number;
  readonly matched: boolean;
  /** A matching event: the value the target would receive. */
  readonly value?: JsonValue;
  /** A matching event: the key a topic target would append it with. */
  readonly key?: string | null;
  /** A matching event whose transform or key fails: why. */
  readonly error?: string;
}

/** `POST /routing/test`'s answer. */
export interface RoutingTestAnswer {
  readonly results: RoutingTestResult[];
  readonly counts: { readonly read: number; readonly matched: number; readonly failed: number };
  /** Reading a topic: pass as `from` to try the events after these. */
  readonly next?: { readonly offsets: Record<string, number> };
}

// ---------------------------------------------------------------- keys

/** `POST /keys`'s body. */
export interface NewKey {
  readonly acl: readonly AclEntry[];
  readonly description?: string;
}

/** `POST /keys`'s answer. */
export interface CreatedKey {
  readonly id: string;
  /** The key itself: shown only in this answer. */
  readonly key: string;
}

export interface KeyView {
  readonly id: string;
  readonly acl: readonly AclEntry[];
  readonly description: string | null;
  readonly createdAt: string;
}

/** `GET /keys`'s answer. */
export interface KeyList {
  readonly keys: KeyView[];
}

// ---------------------------------------------------------------- health

/** `GET /health`'s answer (200 or 503). */
export interface HealthAnswer {
  readonly status: 'ok' | 'down';
  readonly dependencies: { readonly dynamodb: 'ok' | 'down'; readonly s3: 'ok' | 'down' };
  readonly error?: ErrorAnswer['error'];
}

/** Confluent Schema Registry's compatibility modes (docs/api.md, Schemas). */
export type CompatibilityMode =
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE'
  | 'NONE';

/** `PUT /topics/{topic}/schema`'s answer. */
export interface SchemaRegistered {
  readonly version: number;
  readonly compatibility: CompatibilityMode;
}

/** One version of a topic's schema (`GET /topics/{topic}/schema/versions/{n}`). */
export interface SchemaVersion {
  readonly version: number;
  readonly schema: unknown;
  readonly createdAt: string;
}

/** `GET /topics/{topic}/schema`'s answer: the latest version and the topic's mode. */
export interface LatestSchema extends SchemaVersion {
  readonly compatibility: CompatibilityMode;
}
