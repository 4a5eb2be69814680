import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BusConfig } from '../config';
import type { MetricsPort } from '../observability/metrics';
import type { SegmentRecord } from '../segment/codec';
import { logTimeIndex } from '../topology';
import { Appender, type AppendOptions, type AppendResult } from './appender';
import { LogReader, type PartitionOffsets, type ReadResult } from './reader';
import { SegmentStore } from './segment-store';

export interface LogOptions {
  readonly dynamo: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly config: Pick<
    BusConfig,
    'logTable' | 'bucket' | 'inlineThresholdBytes' | 'headCacheMs' | 'appendAttempts' | 'segmentCodec'
  >;
  /** See `AppenderOptions.openEpochAfterConflicts`. */
  readonly openEpochAfterConflicts?: number;
  readonly now?: () => number;
  /** Told of append conflicts, reserved appends and settled offsets. @default none */
  readonly metrics?: Pick<MetricsPort, 'appendConflict' | 'reservedAppend' | 'settledOffsets'>;
}

/**
 * The partitioned log: append segments, read by offset or time. One instance
 * per process; its appender keeps the partition heads it has seen.
 *
 * @example
 * const log = new Log({ dynamo, s3, config: configFromEnv() });
 * const { baseOffset } = await log.append('orders', 0, 168, records);
 * const { records, nextOffset } = await log.read('orders', 0, baseOffset, 100);
 */
export class Log {
  readonly segments: SegmentStore;
  private readonly appender: Appender;
  private readonly reader: LogReader;

  constructor(options: LogOptions) {
    const { dynamo, s3, config, now, openEpochAfterConflicts, metrics } = options;
    this.segments = new SegmentStore(s3, config.bucket);
    this.appender = new Appender({
      dynamo,
      segments: this.segments,
      table: config.logTable,
      inlineThresholdBytes: config.inlineThresholdBytes,
      headCacheMs: config.headCacheMs,
      attempts: config.appendAttempts,
      codec: config.segmentCodec,
      openEpochAfterConflicts,
      now,
      metrics,
    });
    this.reader = new LogReader({
      dynamo,
      segments: this.segments,
      table: config.logTable,
      timeIndex: logTimeIndex,
      now,
      metrics,
    });
  }

  append(
    topic: string,
    partition: number,
    retentionHours: number,
    records: SegmentRecord[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    return this.appender.append(topic, partition, retentionHours, records, options);
  }

  read(
    topic: string,
    partition: number,
    offset: number,
    limit: number,
    maxBytes?: number,
  ): Promise<ReadResult> {
    return this.reader.read(topic, partition, offset, limit, maxBytes);
  }

  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number> {
    return this.reader.offsetForTimestamp(topic, partition, timestamp);
  }

  /** The segment committed with `segmentId` at or above `fromOffset` by an attempt that could commit only before `committedBefore` (epoch ms). */
  findSegment(
    topic: string,
    partition: number,
    segmentId: string,
    fromOffset: number,
    committedBefore: number,
  ): Promise<{ baseOffset: number; count: number } | undefined> {
    return this.reader.findSegment(topic, partition, segmentId, fromOffset, committedBefore);
  }

  /** The offset the next event of the partition will get. */
  endOffset(topic: string, partition: number): Promise<number> {
    return this.reader.endOffset(topic, partition);
  }

  offsets(topic: string, partition: number): Promise<PartitionOffsets> {
    return this.reader.offsets(topic, partition);
  }
}
