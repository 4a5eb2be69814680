import { createHash } from 'node:crypto';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import { BusError, ConflictError, InvalidRequestError } from '../errors';
import type { AppendResult } from '../log/appender';
import type { Log } from '../log/log';
import { partitionForKey } from '../partitioner';
import type { TopicConfig } from '../registry/topic-registry';
import type { SegmentRecord } from '../segment/codec';

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

export type PublishResult =
  | { readonly partition: number; readonly offset: number }
  | { readonly partition: number; readonly error: { readonly code: string; readonly message: string } };

export interface PublishOptions {
  /** The client's `Idempotency-Key`: a repeat within 24 h returns the first answer and appends nothing. */
  readonly idempotencyKey?: string;
  /** Whose key it is (the API key's id), so two clients' keys never collide. */
  readonly scope?: string;
}

/** What identifies one partition's share of an idempotent request; hashed into the idempotency record's key. */
interface PartitionAppend {
  readonly scope: string;
  readonly idempotencyKey: string;
  readonly topic: string;
  readonly partition: number;
  /** Hash of the partition's events: the same key with another body is refused. */
  readonly payload: string;
}

export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600;

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

  /** Appends a partition's share of an idempotent request at most once per key (Powertools idempotency). */
  private readonly appendOnce?: (
    request: PartitionAppend,
    records: SegmentRecord[],
    retentionHours: number,
  ) => Promise<AppendResult>;

  constructor(
    private readonly log: Log,
    idempotencyStore?: BasePersistenceLayer,
    private readonly now: () => number = Date.now,
  ) {
    if (idempotencyStore) {
      const config = new IdempotencyConfig({
        eventKeyJmesPath: '[scope, idempotencyKey, topic, partition]',
        payloadValidationJmesPath: 'payload',
        expiresAfterSeconds: IDEMPOTENCY_WINDOW_SECONDS,
        throwOnNoIdempotencyKey: true,
      });
      // An append that died mid-way holds its key for at most this long; then a retry may run it again.
      config.registerLambdaContext({ getRemainingTimeInMillis: () => 60_000 } as never);
      this.appendOnce = makeIdempotent(
        (request: PartitionAppend, records: SegmentRecord[], retentionHours: number) =>
          this.log.append(request.topic, request.partition, retentionHours, records),
        { persistenceStore: idempotencyStore, config, dataIndexArgument: 0 },
      ) as never;
    }
  }

  /**
   * @example
   * const { results } = await publisher.publish(topic, [{ key: 'o-1', value, json: true, headers: {} }]);
   */
  async publish(
    topic: TopicConfig,
    events: readonly OutgoingEvent[],
    options: PublishOptions = {},
  ): Promise<PublishOutcome> {
    const partitions = this.assignPartitions(topic, events, options.idempotencyKey);
    const byPartition = new Map<number, number[]>();
    partitions.forEach((partition, index) => {
      const indexes = byPartition.get(partition);
      if (indexes) indexes.push(index);
      else byPartition.set(partition, [index]);
    });

    const timestamp = this.now();
    const results: PublishResult[] = new Array(events.length);
    let failure: BusError | undefined;
    let conflict: ConflictError | undefined;
    await Promise.all(
      [...byPartition].map(async ([partition, indexes]) => {
        const records: SegmentRecord[] = indexes.map((i) => toRecord(events[i], timestamp));
        try {
          const { baseOffset } = await this.appendPartition(topic, partition, records, options);
          this.moveSticky(topic, partition);
          indexes.forEach((eventIndex, n) => {
            results[eventIndex] = { partition, offset: baseOffset + n };
          });
        } catch (error) {
          // An idempotency conflict answers the whole request (409), not one partition.
          if (error instanceof ConflictError) conflict ??= error;
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
    return { results, complete: failure === undefined, failure };
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
    if (!options.idempotencyKey || !this.appendOnce) {
      return this.log.append(topic.name, partition, topic.retentionHours, records);
    }
    const payload = createHash('sha256');
    for (const r of records) {
      payload.update(JSON.stringify([r.key?.toString('base64') ?? null, r.json, r.headers]));
      payload.update(r.value);
    }
    const request: PartitionAppend = {
      scope: options.scope ?? '',
      idempotencyKey: options.idempotencyKey,
      topic: topic.name,
      partition,
      payload: payload.digest('base64'),
    };
    try {
      return await this.appendOnce(request, records, topic.retentionHours);
    } catch (error) {
      if (error instanceof IdempotencyAlreadyInProgressError) {
        throw new ConflictError(
          'A request with this Idempotency-Key is still in progress; retry it shortly.',
          { retryAfterSeconds: 1 },
        );
      }
      if (error instanceof IdempotencyValidationError) {
        throw new ConflictError('This Idempotency-Key was used for a different request; use a new key.');
      }
      throw error;
    }
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
