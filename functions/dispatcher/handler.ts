import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, ScheduledEvent } from 'aws-lambda';
import { createBusCore, createDispatcherRole, type DispatcherRole } from '../../shared/bus';
import type { CursorRef } from '../../shared/delivery/cursor-store';
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
    const segments: { pk: string; last: number }[] = [];
    for (const record of event.Records) {
      const image = record.dynamodb?.NewImage;
      if (record.eventName !== 'INSERT' || !image) continue;
      const item = unmarshall(image as Record<string, AttributeValue>);
      if (typeof item.sk === 'number' && item.sk >= 0 && typeof item.last === 'number') {
        segments.push({ pk: item.pk as string, last: item.last });
      }
    }
    try {
      await floors.onSegments(segments);
      const touched = new Map<string, { topic: string; partition: number; end: number }>();
      for (const { pk, last } of segments) {
        const at = pk.lastIndexOf('#');
        const end = Math.max(last + 1, touched.get(pk)?.end ?? 0);
        touched.set(pk, { topic: pk.slice(0, at), partition: Number(pk.slice(at + 1)), end });
      }
      await dispatcher.onAppended([...touched.values()]);
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
