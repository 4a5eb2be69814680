import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { META_SK } from './partition-key';
import { conflictingItem, type SegmentItem } from './segment-item';

/**
 * The offset counter of a reserved epoch (docs/adr/0011-reserved-epochs.md),
 * on the partition's meta item beside its `floor`:
 *
 *   next   the first offset not yet reserved; present only while an epoch is open
 *   since  when the epoch opened (ms)
 *   end    the offset of the gap that closed the last epoch
 *
 *   open ──► ADD next :k (reserve k offsets, never conflicts) ──► close: SET end = next REMOVE next
 *
 * An atomic `ADD` hands every writer its own range at once, so a crowd of
 * writers on one partition costs one counter write and one segment write
 * per append instead of a failed write and a head read per lost race.
 */

/** A writer never sends the commit of a reservation later than this after it asked for the reservation. */
export const RESERVATION_COMMIT_MS = 10_000;

/**
 * A hole below an item reserved at `rt` is settled (filled with a gap) from
 * `rt` plus this on: every reservation in the hole was made before `rt`, so
 * its writer stopped sending by `rt + RESERVATION_COMMIT_MS`; the rest is
 * room for a request in flight and for clock skew between instances.
 */
export const SETTLE_AFTER_MS = 60_000;

/**
 * A writer whose reservations follow each other with no one else's in
 * between, twice in a row, closes the epoch: the crowd is gone. Not before
 * the epoch is this old: until every writer of the crowd has met it, the
 * first to join may see only its own reservations, and an epoch closed then
 * reopens at once, each reopening costing lost races.
 */
export const EPOCH_MIN_MS = 1_000;

/**
 * Past this age, one such reservation is enough: it ends an epoch kept open
 * by a few writers that take turns, where one write per append with rare
 * conflicts is cheaper than two. A crowd never closes its epoch.
 */
export const EPOCH_MS = 60_000;

export interface Reservation {
  /** The first reserved offset. */
  readonly base: number;
  /** When the epoch opened (ms). */
  readonly since: number;
  /** Before this (ms), the writer may send the commit; it asked for the range just before. */
  readonly commitBy: number;
  /** Upper bound on when the range was reserved (ms): recorded on the committed item as `rt`. */
  readonly reservedAt: number;
}

export interface CounterState {
  readonly next?: number;
  readonly end?: number;
}

export class Reservations {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => number,
  ) {}

  /** Reserves `count` offsets; undefined when no epoch is open (its counter is absent). */
  async reserve(pk: string, count: number): Promise<Reservation | undefined> {
    const askedAt = this.now();
    try {
      const { Attributes } = await this.dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk, sk: META_SK },
          UpdateExpression: 'ADD #next :count',
          ConditionExpression: 'attribute_exists(#next)',
          ExpressionAttributeNames: { '#next': 'next' },
          ExpressionAttributeValues: { ':count': count },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const next = Attributes?.next as number;
      return {
        base: next - count,
        since: (Attributes?.since as number | undefined) ?? 0,
        commitBy: askedAt + RESERVATION_COMMIT_MS,
        reservedAt: this.now(),
      };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /**
   * Starts the counter of an epoch whose first item ends before `next`. It
   * never starts below a closed epoch's end, so a late starter cannot hand
   * out offsets that were used after the epoch closed.
   */
  async start(pk: string, next: number): Promise<void> {
    await this.ignoringLostRace(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk, sk: META_SK },
        UpdateExpression: 'SET #next = :next, since = :now',
        ConditionExpression: 'attribute_not_exists(#next) AND (attribute_not_exists(#end) OR #end < :next)',
        ExpressionAttributeNames: { '#next': 'next', '#end': 'end' },
        ExpressionAttributeValues: { ':next': next, ':now': this.now() },
      }),
    );
  }

  /**
   * Stops handing out offsets and returns where the epoch ends (every
   * reservation below it), or undefined when it was already closed.
   */
  async close(pk: string): Promise<number | undefined> {
    try {
      const { Attributes } = await this.dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk, sk: META_SK },
          UpdateExpression: 'SET #end = #next REMOVE #next',
          ConditionExpression: 'attribute_exists(#next)',
          ExpressionAttributeNames: { '#next': 'next', '#end': 'end' },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes?.end as number;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async counter(pk: string): Promise<CounterState> {
    const { Item } = await this.dynamo.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk, sk: META_SK },
        ProjectionExpression: '#next, #end',
        ExpressionAttributeNames: { '#next': 'next', '#end': 'end' },
        ConsistentRead: true,
      }),
    );
    return { next: Item?.next as number | undefined, end: Item?.end as number | undefined };
  }

  /**
   * Puts a gap (no events) over `from` .. `last` unless an item is already at
   * `from`; returns that item's segment id when there is one, else undefined.
   */
  async putGap(
    pk: string,
    from: number,
    last: number,
    marks: { readonly rt: number; readonly expiresAt: number; readonly closes?: boolean },
  ): Promise<{ placed: true } | { placed: false; id?: string }> {
    // No `maxTs`: the time index lists only items with one, and a gap has no events to find by time.
    const gap: Omit<SegmentItem, 'maxTs'> = {
      pk,
      sk: from,
      last,
      count: 0,
      gap: true,
      rt: marks.rt,
      expiresAt: marks.expiresAt,
      ...(marks.closes ? { closes: true } : {}),
    };
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: gap,
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { placed: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { placed: false, id: conflictingItem(error).id };
    }
  }

  private async ignoringLostRace(command: UpdateCommand): Promise<void> {
    try {
      await this.dynamo.send(command);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}
