import { randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type DelayedWaker, delaySeconds, type LeaseWake } from '../shared/delivery/delayed-waker';
import { LOCAL_REGION } from './emulators';

/** How the queue hands a due message over: the dispatcher's handler, as the SQS event source calls it. */
export type DelayQueueConsumer = (event: SQSEvent) => Promise<unknown>;

export interface LocalDelayQueueOptions {
  /** How long a message that failed waits before it is handed over again: the queue's visibility timeout. */
  readonly retryMs: number;
  readonly onError?: (error: Error) => void;
}

/**
 * The lease-wake queue of local mode (docs/adr/0019): an in-process stand-in
 * for an SQS standard queue with `DelaySeconds` and its event source. A
 * message is delayed in whole seconds, as SQS delays it, then handed to the
 * consumer as an SQS event of one record; one reported failed (or thrown) is
 * handed over again after `retryMs`. What is done with it is the dispatcher's,
 * the same code as on AWS. Unlike SQS it is not durable: a bus that stops
 * loses its pending wakes, and the sweep (every second locally) covers them.
 *
 * @example
 * const queue = new LocalDelayQueue({ retryMs: 60_000 });
 * const core = createBusCore({ delayedWaker: queue });
 * queue.consumeWith(createDispatcherHandler(createDispatcherRole(core)));
 */
export class LocalDelayQueue implements DelayedWaker {
  private consumer?: DelayQueueConsumer;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: LocalDelayQueueOptions) {}

  /** Where due messages go; messages due before a consumer is set wait for one. */
  consumeWith(consumer: DelayQueueConsumer): void {
    this.consumer = consumer;
  }

  async wakeAt(wake: LeaseWake, dueAt: number): Promise<void> {
    this.after(delaySeconds(dueAt, Date.now()) * 1000, JSON.stringify(wake));
  }

  /** Drops every pending message. */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private after(ms: number, body: string): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.handOver(body);
    }, ms);
    // A pending wake alone keeps no process alive.
    timer.unref();
    this.timers.add(timer);
  }

  private handOver(body: string): void {
    if (!this.consumer) {
      this.after(1_000, body);
      return;
    }
    const record = sqsRecord(body);
    this.consumer({ Records: [record] }).then(
      (response) => {
        const failures = (response as Partial<SQSBatchResponse> | undefined)?.batchItemFailures ?? [];
        if (failures.some((failure) => failure.itemIdentifier === record.messageId))
          this.after(this.options.retryMs, body);
      },
      (error) => {
        this.options.onError?.(error as Error);
        this.after(this.options.retryMs, body);
      },
    );
  }
}

/** A message as Lambda's SQS event source hands it over. */
function sqsRecord(body: string): SQSRecord {
  const now = String(Date.now());
  return {
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: now,
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: now,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:${LOCAL_REGION}:000000000000:LeaseWakes`,
    awsRegion: LOCAL_REGION,
  };
}
