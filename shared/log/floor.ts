import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { META_SK } from './partition-key';

/**
 * Raises a partition's floor (the lowest offset the next append may use) to
 * `floor`, never lowering it. Returns false when the floor was already at or
 * above it: losing that race is normal, not an error.
 *
 * The floor is what keeps offsets from going backwards once every segment of
 * an idle partition has expired (docs/adr/0002-floor-from-the-stream.md).
 */
export async function raiseFloor(
  dynamo: DynamoDBDocumentClient,
  table: string,
  pk: string,
  floor: number,
): Promise<boolean> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk, sk: META_SK },
        UpdateExpression: 'SET #floor = :floor',
        ConditionExpression: 'attribute_not_exists(#floor) OR #floor < :floor',
        ExpressionAttributeNames: { '#floor': 'floor' },
        ExpressionAttributeValues: { ':floor': floor },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
