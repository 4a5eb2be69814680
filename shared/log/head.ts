import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { META_SK } from './partition-key';
import { isReserved, type SegmentItem } from './segment-item';

/** What the top of a partition says about where the next commit goes. */
export interface PartitionTop {
  /**
   * The offset after the partition's highest item: the end readers see, and
   * where the next optimistic commit goes.
   */
  readonly head: number;
  /**
   * Offsets are handed out by the meta item's counter (a reserved epoch,
   * docs/adr/0011-reserved-epochs.md): committing at `head` without a
   * reservation could land inside someone's reserved range.
   */
  readonly reserved: boolean;
  /** The highest item, unless it is the meta item or there is none. */
  readonly item?: Pick<SegmentItem, 'sk' | 'last' | 'rt' | 'closes'>;
}

/**
 * One strongly consistent descending Query finds the partition's last item:
 * a segment or gap there gives `last + 1`; the meta item (every segment gone)
 * gives its `floor`, or the offset after the last epoch's closing gap;
 * nothing at all gives 0.
 */
export async function readTop(
  dynamo: DynamoDBDocumentClient,
  table: string,
  pk: string,
): Promise<PartitionTop> {
  const result = await dynamo.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ProjectionExpression: 'sk, #last, #floor, rt, closes, #next, #end',
      ExpressionAttributeNames: { '#last': 'last', '#floor': 'floor', '#next': 'next', '#end': 'end' },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  const top = result.Items?.[0] as
    | (Pick<SegmentItem, 'sk' | 'last' | 'rt' | 'closes'> & { floor?: number; next?: number; end?: number })
    | undefined;
  if (!top) return { head: 0, reserved: false };
  if (top.sk === META_SK) {
    const afterEpoch = top.end === undefined ? 0 : top.end + 1;
    return { head: Math.max(top.floor ?? 0, afterEpoch), reserved: top.next !== undefined };
  }
  return { head: top.last + 1, reserved: isReserved(top), item: top };
}

/** The offset after the partition's highest item (see `readTop`). */
export async function readHead(dynamo: DynamoDBDocumentClient, table: string, pk: string): Promise<number> {
  return (await readTop(dynamo, table, pk)).head;
}
