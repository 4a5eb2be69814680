import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { createAwsClients } from '../../shared/aws/clients';
import { configFromEnv } from '../../shared/config';
import { FloorKeeper } from '../../shared/log/floor-keeper';

/**
 * Consumes the log table's stream. Today its one duty is keeping each
 * partition's floor behind its newest segments (docs/adr/0002); delivery to
 * consumer groups joins it here. A throw makes Lambda (or the local runtime)
 * retry the batch, which is safe: raising a floor is idempotent.
 */
export function createDispatcherHandler(env: NodeJS.ProcessEnv = process.env) {
  const config = configFromEnv(env);
  const { dynamo } = createAwsClients(env);
  const floors = new FloorKeeper({ dynamo, table: config.logTable });
  return async (event: DynamoDBStreamEvent): Promise<void> => {
    const segments: { pk: string; last: number }[] = [];
    for (const record of event.Records) {
      const image = record.dynamodb?.NewImage;
      if (record.eventName !== 'INSERT' || !image) continue;
      const item = unmarshall(image as Record<string, AttributeValue>);
      if (typeof item.sk === 'number' && item.sk >= 0 && typeof item.last === 'number') {
        segments.push({ pk: item.pk as string, last: item.last });
      }
    }
    await floors.onSegments(segments);
  };
}

let dispatch: ReturnType<typeof createDispatcherHandler> | undefined;

export const handler = (event: DynamoDBStreamEvent): Promise<void> => {
  dispatch ??= createDispatcherHandler();
  return dispatch(event);
};
