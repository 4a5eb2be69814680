import { BusError, InvalidRequestError } from '../errors';
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
  /** Where the next keyless request goes; starts at a random partition so instances spread out. */
  private nextSticky = Math.floor(Math.random() * 1_000_000);

  constructor(
    private readonly log: Log,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * @example
   * const { results } = await publisher.publish(topic, [{ key: 'o-1', value, json: true, headers: {} }]);
   */
  async publish(topic: TopicConfig, events: readonly OutgoingEvent[]): Promise<PublishOutcome> {
    const partitions = this.assignPartitions(topic, events);
    const byPartition = new Map<number, number[]>();
    partitions.forEach((partition, index) => {
      const indexes = byPartition.get(partition);
      if (indexes) indexes.push(index);
      else byPartition.set(partition, [index]);
    });

    const timestamp = this.now();
    const results: PublishResult[] = new Array(events.length);
    let failure: BusError | undefined;
    await Promise.all(
      [...byPartition].map(async ([partition, indexes]) => {
        const records: SegmentRecord[] = indexes.map((i) => toRecord(events[i], timestamp));
        try {
          const { baseOffset } = await this.log.append(topic.name, partition, topic.retentionHours, records);
          indexes.forEach((eventIndex, n) => {
            results[eventIndex] = { partition, offset: baseOffset + n };
          });
        } catch (error) {
          const busError = error instanceof BusError ? error : undefined;
          failure ??= busError ?? new BusError(503, 'UNAVAILABLE', 'The log could not be written.', { cause: error, retryable: true });
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
    return { results, complete: failure === undefined, failure };
  }

  /**
   * Kafka's rules: an explicit partition wins, then murmur2 of the key;
   * keyless events of one request stick to one partition (one segment, one
   * write) and successive requests rotate over the partitions.
   */
  private assignPartitions(topic: TopicConfig, events: readonly OutgoingEvent[]): number[] {
    const sticky = this.nextSticky++ % topic.partitions;
    return events.map((event, index) => {
      if (event.partition !== undefined) {
        if (!Number.isInteger(event.partition) || event.partition < 0 || event.partition >= topic.partitions) {
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
