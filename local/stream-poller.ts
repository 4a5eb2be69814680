import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';

export interface StreamPollerOptions {
  readonly dynamo: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
  readonly table: string;
  readonly handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | undefined | unknown>;
  readonly batchSize: number;
  /** Only records whose eventName is listed reach the handler, as the event source mapping's filter does on AWS. */
  readonly eventNames?: readonly string[];
  readonly idleMs?: number;
  readonly onError?: (error: unknown) => void;
}

interface ShardState {
  iterator?: string;
  done: boolean;
  parent?: string;
}

/**
 * Plays the part of Lambda's DynamoDB stream event source mapping in local
 * mode: reads every shard of the table's stream from its oldest record and
 * hands batches to the handler in order; a batch that fails is retried until
 * it succeeds, so nothing is skipped. A restart reads the retained stream
 * again, which the handler must (and does) tolerate.
 */
export class StreamPoller {
  private readonly shards = new Map<string, ShardState>();
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(private readonly options: StreamPollerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let lastDescribe = 0;
    let streamArn: string | undefined;
    while (this.running) {
      let busy = false;
      try {
        if (!streamArn || Date.now() - lastDescribe > 5_000) {
          streamArn = await this.describe();
          lastDescribe = Date.now();
        }
        for (const [shardId, shard] of this.shards) {
          if (shard.done || !this.running) continue;
          if (shard.parent && this.shards.has(shard.parent) && !this.shards.get(shard.parent)?.done) continue;
          busy = (await this.pollShard(streamArn, shardId, shard)) || busy;
        }
      } catch (error) {
        this.options.onError?.(error);
      }
      if (!busy) await this.sleep(this.options.idleMs ?? 200);
    }
  }

  private async describe(): Promise<string> {
    const { Table } = await this.options.dynamo.send(
      new DescribeTableCommand({ TableName: this.options.table }),
    );
    const streamArn = Table?.LatestStreamArn;
    if (!streamArn) throw new Error(`Table ${this.options.table} has no stream.`);
    let start: string | undefined;
    do {
      const { StreamDescription } = await this.options.streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }),
      );
      for (const shard of StreamDescription?.Shards ?? []) {
        if (shard.ShardId && !this.shards.has(shard.ShardId)) {
          this.shards.set(shard.ShardId, { done: false, parent: shard.ParentShardId });
        }
      }
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return streamArn;
  }

  /** Reads one batch of a shard and hands it over; true if there were records. */
  private async pollShard(streamArn: string, shardId: string, shard: ShardState): Promise<boolean> {
    if (!shard.iterator) {
      const { ShardIterator } = await this.options.streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      shard.iterator = ShardIterator;
    }
    let page: { Records?: _Record[]; NextShardIterator?: string };
    try {
      page = await this.options.streams.send(
        new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: this.options.batchSize }),
      );
    } catch (error) {
      // An iterator that expired, or points before what the stream still holds, is fetched afresh.
      const name = (error as Error).name;
      if (name === 'ExpiredIteratorException' || name === 'TrimmedDataAccessException') {
        shard.iterator = undefined;
        return true;
      }
      throw error;
    }
    const { Records, NextShardIterator } = page;
    const records = (Records ?? []).filter(
      (r) => !this.options.eventNames || this.options.eventNames.includes(r.eventName ?? ''),
    );
    if (records.length > 0) {
      // A throw, or failed items in the answer (the stream source reports batch item failures, and
      // the dispatcher names a batch's first record), leave the iterator where it is: the batch is
      // read and handed over again.
      const answer = (await this.options.handler({
        Records: records.map((r) => toLambdaRecord(r, streamArn)),
      } as DynamoDBStreamEvent)) as DynamoDBBatchResponse | undefined;
      if (answer?.batchItemFailures?.length) {
        throw new Error(`the stream handler reported ${answer.batchItemFailures.length} failed record(s)`);
      }
    }
    shard.iterator = NextShardIterator;
    if (!NextShardIterator) shard.done = true;
    return (Records?.length ?? 0) > 0;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** The SDK's stream record in the shape Lambda hands to a function (dates as epoch seconds). */
function toLambdaRecord(record: _Record, streamArn: string): unknown {
  const created = record.dynamodb?.ApproximateCreationDateTime;
  return {
    ...record,
    eventSourceARN: streamArn,
    dynamodb: {
      ...record.dynamodb,
      ApproximateCreationDateTime: created instanceof Date ? Math.floor(created.getTime() / 1000) : created,
    },
  };
}
