import { DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/emulators';
import { tableNames } from '../local/provision';
import { META_SK, partitionKey } from '../shared/log/partition-key';
import { logTable } from '../shared/topology';

/** What the log table gained for a topic since the previous look, summed over its partitions. */
export interface LogTableGrowth {
  /** New segment items (sk >= 0): one per committed segment. */
  readonly segments: number;
  /** Events in those segments (the sum of their `count`). */
  readonly events: number;
  /** Offsets by which the partitions' floors trail their heads (floors are raised after the acknowledgement). */
  readonly floorLag: number;
}

/**
 * Reads the log table straight from DynamoDB Local, past the bus, so these
 * reads never show in the bus's request counts. Each look reads only the
 * segments after the head it saw the time before.
 */
export class LogTable {
  private readonly dynamo: DynamoDBClient;
  private readonly heads = new Map<string, number>();
  private readonly table = tableNames()[logTable.envVar];

  constructor(endpoint: string) {
    this.dynamo = new DynamoDBClient({
      endpoint,
      region: LOCAL_REGION,
      credentials: { ...LOCAL_CREDENTIALS },
    });
  }

  async growth(topic: string, partitions: number): Promise<LogTableGrowth> {
    let segments = 0;
    let events = 0;
    let floorLag = 0;
    for (let partition = 0; partition < partitions; partition++) {
      const pk = partitionKey(topic, partition);
      const from = this.heads.get(pk) ?? 0;
      let head = from;
      let startKey: Record<string, never> | undefined;
      do {
        const page = await this.dynamo.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk AND sk >= :head',
            ExpressionAttributeValues: { ':pk': { S: pk }, ':head': { N: String(from) } },
            ProjectionExpression: '#count, #last',
            ExpressionAttributeNames: { '#count': 'count', '#last': 'last' },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of page.Items ?? []) {
          segments += 1;
          events += Number(item.count?.N ?? 0);
          head = Math.max(head, Number(item.last?.N ?? -1) + 1);
        }
        startKey = page.LastEvaluatedKey as typeof startKey;
      } while (startKey);
      this.heads.set(pk, head);
      const { Item: meta } = await this.dynamo.send(
        new GetItemCommand({ TableName: this.table, Key: { pk: { S: pk }, sk: { N: String(META_SK) } } }),
      );
      floorLag += Math.max(0, head - Number(meta?.floor?.N ?? 0));
    }
    return { segments, events, floorLag };
  }

  destroy(): void {
    this.dynamo.destroy();
  }
}
