import { type PublishResult, partitionForKey } from '../../protocol';
import { BusError, ConflictError, InvalidRequestError } from '../errors';
import type { AppendResult } from '../log/appender';
import type { Log } from '../log/log';
import { type MetricsPort, NO_METRICS } from '../observability/metrics';
import type { TopicConfig } from '../registry/topic';
import { SCHEMA_VERSION_HEADER } from '../schemas/schema-errors';
import type { TopicSchemas } from '../schemas/topic-schemas';
import type { SegmentRecord } from '../segment/codec';
import { hashRecords, IdempotencyKeyReusedError, type IdempotentAppends } from './idempotent-appends';

/** One event to publish, already parsed from whatever format it came in. */
export interface OutgoingEvent {
  readonly key: string | null;
  readonly value: Buffer;
  /** The value is JSON text (readers get it back parsed). */
  readonly json: boolean;
  readonly headers: Record<string, string>;
  /** An explicit partition; otherwise the key decides, or the bus spreads keyless events. */
  readonly partition?: number;
}

export interface PublishOptions {
  /** The client's `Idempotency-Key`: a repeat within 24 h returns the first answer and appends nothing. */
  readonly idempotencyKey?: string;
  /** Whose key it is (the API key's id), so two clients' keys never collide. */
  readonly scope?: string;
}

export interface PublishOutcome {
  /** One result per event, in request order. */
  readonly results: PublishResult[];
  /** True when every event was committed. */
  readonly complete: boolean;
  /** The first failure, when not complete: it decides the status and `Retry-After`. */
  readonly failure?: BusError;
}

/**
 * Publishes a request's events: assigns partitions, appends each
 * partition's events as one segment (all partitions in parallel), and reports
 * where each event landed, in request order.
 */
export class Publisher {
  /**
   * Per topic, the partition keyless events go to now (Kafka's sticky
   * partitioner): requests that arrive together share it, so the appender
   * coalesces them into one segment; it moves on once a segment there is
   * committed. Starts at random so that instances spread out.
   */
  private readonly sticky = new Map<string, number>();

  constructor(
    private readonly log: Log,
    /** Appends of requests with an Idempotency-Key; without it, such requests are refused. */
    private readonly idempotent?: IdempotentAppends,
    private readonly now: () => number = Date.now,
    /** Told how many events each publish appended. */
    private readonly metrics: Pick<MetricsPort, 'published'> = NO_METRICS,
    /** The topics' schemas: a request with a value its topic's schema refuses appends nothing. */
    private readonly schemas?: Pick<TopicSchemas, 'check'>,
  ) {}

  /**
   * @example
   * const { results } = await publisher.publish(topic, [{ key: 'o-1', value, json: true, headers: {} }]);
   */
  async publish(
    topic: TopicConfig,
    events: readonly OutgoingEvent[],
    options: PublishOptions = {},
  ): Promise<PublishOutcome> {
    events = await this.checkSchema(topic, events);
    const partitions = this.assignPartitions(topic, events, options.idempotencyKey);
    const byPartition = new Map<number, number[]>();
    partitions.forEach((partition, index) => {
      const indexes = byPartition.get(partition);
      if (indexes) indexes.push(index);
      else byPartition.set(partition, [index]);
    });

    const timestamp = this.now();
    const records = new Map(
      [...byPartition].map(([partition, indexes]) => [
        partition,
        indexes.map((i) => toRecord(events[i], timestamp)),
      ]),
    );
    if (options.idempotencyKey !== undefined) {
      // The whole request (every partition's events) is bound to the key before any partition is written.
      const request = [...records]
        .sort(([a], [b]) => a - b)
        .map(([partition, partitionRecords]) => `${partition}:${hashRecords(partitionRecords)}`)
        .join(',');
      await this.requireIdempotency().claimRequest(
        options.scope ?? '',
        options.idempotencyKey,
        topic.name,
        request,
      );
    }
    const results: PublishResult[] = new Array(events.length);
    let failure: BusError | undefined;
    let conflict: BusError | undefined;
    await Promise.all(
      [...byPartition].map(async ([partition, indexes]) => {
        try {
          const { baseOffset } = await this.appendPartition(
            topic,
            partition,
            records.get(partition) as SegmentRecord[],
            options,
          );
          this.moveSticky(topic, partition);
          indexes.forEach((eventIndex, n) => {
            results[eventIndex] = { partition, offset: baseOffset + n };
          });
        } catch (error) {
          // An idempotency conflict (409, or 422 for a reused key) answers the whole request, not one partition.
          if (error instanceof ConflictError || error instanceof IdempotencyKeyReusedError)
            conflict ??= error;
          const busError = error instanceof BusError ? error : undefined;
          failure ??=
            busError ??
            new BusError(503, 'UNAVAILABLE', 'The log could not be written.', {
              cause: error,
              retryAfterSeconds: 1,
            });
          const shown = busError?.expose || busError?.retryable ? busError : undefined;
          for (const eventIndex of indexes) {
            results[eventIndex] = {
              partition,
              error: {
                code: shown?.code ?? 'UNAVAILABLE',
                message: shown?.message ?? 'This partition could not be written; retry the request.',
              },
            };
          }
        }
      }),
    );
    if (conflict) throw conflict;
    this.metrics.published(results.filter((result) => 'offset' in result).length);
    return { results, complete: failure === undefined, failure };
  }

  /**
   * Every value checked against the topic's schema before anything is
   * appended (SCHEMA_VIOLATION at the first that fails); accepted events
   * carry the version they were checked against.
   */
  private async checkSchema(
    topic: TopicConfig,
    events: readonly OutgoingEvent[],
  ): Promise<readonly OutgoingEvent[]> {
    if (!this.schemas) return events;
    const version = await this.schemas.check(
      topic.name,
      events.map((event) => (event.json ? event.value.toString('utf8') : undefined)),
    );
    if (version === undefined) return events;
    return events.map((event) => ({
      ...event,
      headers: { ...event.headers, [SCHEMA_VERSION_HEADER]: String(version) },
    }));
  }

  /**
   * One partition's share of the request. With an idempotency key, each
   * partition's append is recorded on its own, so after a partial failure a
   * full retry appends only what failed and answers the rest from the record.
   */
  private async appendPartition(
    topic: TopicConfig,
    partition: number,
    records: SegmentRecord[],
    options: PublishOptions,
  ): Promise<AppendResult> {
    if (options.idempotencyKey === undefined) {
      return this.log.append(topic.name, partition, topic.retentionHours, records);
    }
    return this.requireIdempotency().append({
      scope: options.scope ?? '',
      idempotencyKey: options.idempotencyKey,
      topic: topic.name,
      partition,
      retentionHours: topic.retentionHours,
      records,
    });
  }

  private requireIdempotency(): IdempotentAppends {
    if (!this.idempotent) throw new Error('This Publisher has no idempotency store.');
    return this.idempotent;
  }

  /**
   * Kafka's rules: an explicit partition wins, then murmur2 of the key;
   * keyless events go to the topic's sticky partition (one segment, one
   * write, shared with concurrent requests), which rotates over the
   * partitions as segments commit. A request with an idempotency key sticks
   * to a partition chosen by that key, so a retry lands where the first
   * attempt did.
   */
  private stickyFor(topic: TopicConfig): number {
    let partition = this.sticky.get(topic.name);
    if (partition === undefined || partition >= topic.partitions) {
      partition = Math.floor(Math.random() * topic.partitions);
      this.sticky.set(topic.name, partition);
    }
    return partition;
  }

  /** After a commit on the sticky partition, the next keyless events go to the next partition. */
  private moveSticky(topic: TopicConfig, committed: number): void {
    if (this.sticky.get(topic.name) === committed)
      this.sticky.set(topic.name, (committed + 1) % topic.partitions);
  }

  private assignPartitions(
    topic: TopicConfig,
    events: readonly OutgoingEvent[],
    idempotencyKey?: string,
  ): number[] {
    const sticky =
      idempotencyKey !== undefined
        ? partitionForKey(idempotencyKey, topic.partitions)
        : this.stickyFor(topic);
    return events.map((event, index) => {
      if (event.partition !== undefined) {
        if (
          !Number.isInteger(event.partition) ||
          event.partition < 0 ||
          event.partition >= topic.partitions
        ) {
          throw new InvalidRequestError(
            `events[${index}].partition must be an integer from 0 to ${topic.partitions - 1} (topic "${topic.name}" has ${topic.partitions}).`,
          );
        }
        return event.partition;
      }
      return event.key === null ? sticky : partitionForKey(event.key, topic.partitions);
    });
  }
}

function toRecord(event: OutgoingEvent, timestamp: number): SegmentRecord {
  return {
    timestamp,
    key: event.key === null ? null : Buffer.from(event.key, 'utf8'),
    value: event.value,
    json: event.json,
    headers: event.headers,
  };
}
