import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type {
  DynamoDBBatchResponse,
  DynamoDBStreamEvent,
  ScheduledEvent,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { createBusCore, createDispatcherRole, type DispatcherRole } from '../../shared/bus';
import type { CursorRef } from '../../shared/delivery/cursor-store';
import { appendedPartitions } from '../../shared/delivery/dispatcher';
import { parseLeaseWake } from '../../shared/delivery/lease-wake';
import { partitionKey } from '../../shared/log/partition-key';
import { createLogger } from '../../shared/observability/logger';

const logger = createLogger();

/** The schedule's event: EventBridge's on AWS, the local runtime's timer locally. */
export type SweepEvent = Pick<ScheduledEvent, 'detail-type'>;

/** What triggers the dispatcher: the log's stream, the schedule, or the lease-wake queue. */
export type DispatcherEvent = DynamoDBStreamEvent | SweepEvent | SQSEvent;

function isSweep(event: DispatcherEvent): event is SweepEvent {
  return (event as SweepEvent)['detail-type'] === 'Scheduled Event';
}

function isLeaseWakes(event: DispatcherEvent): event is SQSEvent {
  return (event as SQSEvent).Records?.[0]?.eventSource === 'aws:sqs';
}

/**
 * The log table's stream and the delivery schedule meet here. From the
 * stream: raise each partition's floor (docs/adr/0002) and wake the groups
 * reading the partitions touched. On the schedule: wake groups with lag or
 * due retries that no stream record woke. From the lease-wake queue: wake a
 * partition whose holder died, or arm its wake again while the lease lives
 * (docs/adr/0019). It never delivers, so no subscriber can slow the stream
 * (docs/adr/0005).
 *
 * Both duties are idempotent, so a batch is retried whole: the answer names
 * the batch's first record as failed (the stream source reports batch item
 * failures), and the source retries from there.
 */
export function createDispatcherHandler(role: DispatcherRole = createDispatcherRole(createBusCore())) {
  const { dispatcher, floors } = role;
  async function onStream(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
    const items = event.Records.filter(
      (record) => record.eventName === 'INSERT' && record.dynamodb?.NewImage,
    ).map((record) => unmarshall(record.dynamodb?.NewImage as Record<string, AttributeValue>));
    try {
      const appended = appendedPartitions(items);
      await floors.onSegments(
        appended.map(({ topic, partition, end }) => ({ pk: partitionKey(topic, partition), last: end - 1 })),
      );
      await dispatcher.onAppended(appended);
      return { batchItemFailures: [] };
    } catch (error) {
      logger.error('stream batch failed; retried from its first record', { error });
      const first = event.Records[0]?.dynamodb?.SequenceNumber;
      return { batchItemFailures: first ? [{ itemIdentifier: first }] : [] };
    }
  }
  /** Each wake on its own: one that fails (an outage) comes back after the queue's visibility timeout. */
  async function onLeaseWakes(event: SQSEvent): Promise<SQSBatchResponse> {
    const failed: { itemIdentifier: string }[] = [];
    await Promise.all(
      event.Records.map(async (record) => {
        const wake = parseLeaseWake(record.body);
        if (!wake) {
          logger.warn('not a lease wake; dropped', { messageId: record.messageId });
          return;
        }
        try {
          await dispatcher.onLeaseWakeDue(wake);
        } catch (error) {
          logger.error('lease wake failed; retried', { error, ...wake });
          failed.push({ itemIdentifier: record.messageId });
        }
      }),
    );
    return { batchItemFailures: failed };
  }
  return async (
    event: DispatcherEvent,
  ): Promise<DynamoDBBatchResponse | SQSBatchResponse | { woken: CursorRef[] }> => {
    if (isSweep(event)) return { woken: await dispatcher.sweep() };
    if (isLeaseWakes(event)) return onLeaseWakes(event);
    return onStream(event);
  };
}

let dispatch: ReturnType<typeof createDispatcherHandler> | undefined;

export const handler = (event: DispatcherEvent) => {
  dispatch ??= createDispatcherHandler();
  return dispatch(event);
};
