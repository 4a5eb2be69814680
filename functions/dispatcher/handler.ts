import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, ScheduledEvent } from 'aws-lambda';
import { createBusCore, createDispatcherRole, type DispatcherRole } from '../../shared/bus';
import type { CursorRef } from '../../shared/delivery/cursor-store';
import { appendedPartitions } from '../../shared/delivery/dispatcher';
import { partitionKey } from '../../shared/log/partition-key';
import { createLogger } from '../../shared/observability/logger';

const logger = createLogger();

/** The schedule's event: EventBridge's on AWS, the local runtime's timer locally. */
export type SweepEvent = Pick<ScheduledEvent, 'detail-type'>;

function isSweep(event: DynamoDBStreamEvent | SweepEvent): event is SweepEvent {
  return (event as SweepEvent)['detail-type'] === 'Scheduled Event';
}

/**
 * The log table's stream and the delivery schedule meet here. From the
 * stream: raise each partition's floor (docs/adr/0002) and wake the groups
 * reading the partitions touched. On the schedule: wake groups with lag or
 * due retries that no stream record woke. It never delivers, so no
 * subscriber can slow the stream (docs/adr/0005).
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
  return async (
    event: DynamoDBStreamEvent | SweepEvent,
  ): Promise<DynamoDBBatchResponse | { woken: CursorRef[] }> =>
    isSweep(event) ? { woken: await dispatcher.sweep() } : onStream(event);
}

let dispatch: ReturnType<typeof createDispatcherHandler> | undefined;

export const handler = (event: DynamoDBStreamEvent | SweepEvent) => {
  dispatch ??= createDispatcherHandler();
  return dispatch(event);
};
