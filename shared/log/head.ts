import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { META_SK } from './partition-key';

/**
 * A partition's head: the offset its next segment gets. One strongly
 * consistent descending Query finds the partition's last item: a segment
 * there gives `last + 1`; the meta item (every segment gone) gives its
 * `floor`; nothing at all gives 0.
 */
export async function readHead(dynamo: DynamoDBDocumentClient, table: string, pk: string): Promise<number> {
  const result = await dynamo.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ProjectionExpression: 'sk, #last, #floor',
      ExpressionAttributeNames: { '#last': 'last', '#floor': 'floor' },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  const top = result.Items?.[0] as { sk: number; last?: number; floor?: number } | undefined;
  if (!top) return 0;
  return top.sk === META_SK ? (top.floor ?? 0) : (top.last as number) + 1;
}
