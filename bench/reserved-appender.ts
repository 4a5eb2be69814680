import { randomBytes } from 'node:crypto';
import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { UnavailableError } from '../shared/errors';
import { META_SK, partitionKey } from '../shared/log/partition-key';
import { segmentItem } from '../shared/log/segment-item';
import { encodeSegment, type SegmentRecord } from '../shared/segment/codec';

/** TTL of the prototype's items: a day, as the benchmark's topics keep. */
const ttlInADay = () => Math.ceil(Date.now() / 1000) + 24 * 3600;

/**
 * A PROTOTYPE of reserved commits, for measuring only (docs/adr/0009): not
 * used by the bus. Offsets come from an atomic counter on the partition's
 * meta item (`ADD next :n`, which never conflicts), `range` at a time; the
 * segment is then put at its reserved offset, where no other writer can be.
 *
 * What it leaves out, and why it is not in shared/log: a reservation whose
 * writer dies leaves a hole that readers would wait at; the rule that bounds
 * that wait (a reader or the sweeper filling a hole older than the commit
 * deadline with a gap marker, which the late writer's put then conflicts
 * with) and its crash tests are not written. It also assumes a fresh
 * partition: the counter is not seeded from an existing head or floor.
 */
export class ReservedAppender {
  /** Offsets reserved and not used yet, per partition: [next, end). */
  private readonly reserved = new Map<string, [number, number]>();

  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly range: number,
  ) {}

  async append(topic: string, partition: number, records: SegmentRecord[]): Promise<number> {
    const pk = partitionKey(topic, partition);
    let span = this.reserved.get(pk);
    if (!span || span[1] - span[0] < records.length) {
      if (span && span[0] < span[1]) await this.fillGap(pk, span[0], span[1] - 1);
      const want = Math.max(this.range, records.length);
      const result = await this.dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk, sk: META_SK },
          UpdateExpression: 'ADD #next :n',
          ExpressionAttributeNames: { '#next': 'next' },
          ExpressionAttributeValues: { ':n': want },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      const end = result.Attributes?.next as number;
      span = [end - want, end];
    }
    const base = span[0];
    span[0] += records.length;
    this.reserved.set(pk, span);
    const segment = encodeSegment(records, { codec: 'brotli' });
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: segmentItem(pk, base, segment, randomBytes(12).toString('base64url'), ttlInADay(), {}),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      throw new UnavailableError('reserved commit failed', 1, { cause: error });
    }
    return base;
  }

  /** Reservations not used: one gap marker each, so readers need not wait at them. */
  async release(): Promise<number> {
    let writes = 0;
    for (const [pk, [next, end]] of this.reserved) {
      if (next < end) {
        await this.fillGap(pk, next, end - 1);
        writes++;
      }
    }
    this.reserved.clear();
    return writes;
  }

  private async fillGap(pk: string, from: number, last: number): Promise<void> {
    await this.dynamo.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk, sk: from, last, count: 0, gap: true, maxTs: Date.now(), expiresAt: 0 },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }
}
