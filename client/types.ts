/**
 * The HTTP API's request and answer shapes (docs/api.md, API.md), as the
 * client sends and receives them.
 */

/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [name: string]: JsonValue };

export type Permission = 'publish' | 'read' | 'admin';

/** One ACL entry of an API key: topic (or group) name patterns and what the key may do on them. */
export interface AclEntry {
  /** A name pattern, `*` matching any run of characters: `orders*`. */
  readonly topics: string;
  readonly permissions: readonly Permission[];
}

export interface TopicConfig {
  readonly partitions: number;
  readonly retentionHours: number;
}

export interface TopicSummary extends TopicConfig {
  readonly name: string;
}

export interface PartitionRange {
  readonly partition: number;
  /** The oldest retained offset. */
  readonly startOffset: number;
  /** The offset the next event will get. */
  readonly endOffset: number;
}

export interface TopicDescription {
  readonly name: string;
  readonly partitions: readonly PartitionRange[];
  readonly retentionHours: number;
}

/** What a producer sends: a value, and optionally a key (which picks the partition), headers or a partition. */
export interface EventToPublish {
  readonly key?: string;
  readonly value: JsonValue;
  readonly headers?: Readonly<Record<string, string>>;
  /** An explicit partition; otherwise the key decides, or the bus (or the Producer) picks one. */
  readonly partition?: number;
}

/** Where a published event landed. */
export interface EventPosition {
  readonly partition: number;
  readonly offset: number;
}

/** One entry of a publish answer: where the event landed, or why its partition could not be written. */
export type PublishResult =
  | EventPosition
  | { readonly partition: number; readonly error: { readonly code: string; readonly message: string } };

/** An event read back from a partition. */
export interface ConsumedEvent {
  readonly offset: number;
  /** When the bus appended it, ISO-8601. */
  readonly timestamp: string;
  readonly key: string | null;
  /** JSON as published; a string for text; base64 when `valueEncoding` is `base64`. */
  readonly value: JsonValue;
  readonly headers: Readonly<Record<string, string>>;
  readonly valueEncoding?: 'base64';
}

/** One page of a partition, as `GET …/partitions/{p}/events` answers it. */
export interface EventPage {
  readonly events: readonly ConsumedEvent[];
  /** Where the next read starts. */
  readonly nextOffset: number;
}

export type SubscriptionTarget =
  | { readonly type: 'lambda'; readonly function: string }
  | { readonly type: 'webhook'; readonly url: string };

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
  readonly timeoutSeconds?: number;
}

export interface Subscription extends SubscriptionConfig {
  readonly group: string;
  /** A webhook subscription's signing secret (`whsec_…`): only in the answer that created it. */
  readonly secret?: string;
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
  readonly oldestEventAgeMs?: number;
}

export interface SubscriptionDescription extends Subscription {
  readonly partitions: readonly SubscriptionPartition[];
}

/** Where `resetOffsets` moves a group. */
export type OffsetReset =
  | 'earliest'
  | 'latest'
  | { readonly timestamp: string | Date }
  | { readonly offsets: Readonly<Record<number, number>> };

export interface NewKey {
  readonly acl: readonly AclEntry[];
  readonly description?: string;
}

export interface CreatedKey {
  readonly id: string;
  /** The key itself: shown only in this answer. */
  readonly key: string;
}

export interface KeyView {
  readonly id: string;
  readonly acl: readonly AclEntry[];
  readonly description?: string;
  readonly createdAt: string;
}
