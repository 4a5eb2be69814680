import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { raiseFloor } from './floor';
import { readHead } from './head';
import { META_SK } from './partition-key';

export interface FloorKeeperOptions {
  readonly dynamo: DynamoDBDocumentClient;
  readonly table: string;
  /**
   * The stream raises a partition's floor at most this often from one
   * process; the scheduled catch-up covers the last segments of a burst.
   * @default 60 s
   */
  readonly minIntervalMs?: number;
  readonly now?: () => number;
}

/**
 * Keeps each partition's floor (docs/adr/0002) close behind its head, for
 * a fraction of a write per segment:
 *
 *   commits   ─┬──┬─┬┬┬──┬──────────┬┬─────────────────────────── (idle) ───►
 *   stream     ▲ raise     (skipped: raised < 1 min ago)  ▲ raise
 *   schedule                          ▲ catch-up: floor := head            ▲ …
 *
 * The stream raises at once when this process has not raised that
 * partition's floor for `minIntervalMs`; whatever it skipped, the scheduled
 * `catchUp` (hourly on AWS) brings up to the head. Retention is at least 24 h,
 * so the floor is current long before the last segment can expire.
 */
export class FloorKeeper {
  private readonly raisedAt = new Map<string, number>();
  private readonly minIntervalMs: number;
  private readonly now: () => number;

  constructor(private readonly options: FloorKeeperOptions) {
    this.minIntervalMs = options.minIntervalMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** New segments from the stream: raises the floor of each partition not raised lately. */
  async onSegments(segments: readonly { pk: string; last: number }[]): Promise<void> {
    const ends = new Map<string, number>();
    for (const { pk, last } of segments) ends.set(pk, Math.max(ends.get(pk) ?? 0, last + 1));
    const now = this.now();
    await Promise.all(
      [...ends]
        .filter(([pk]) => now - (this.raisedAt.get(pk) ?? Number.NEGATIVE_INFINITY) >= this.minIntervalMs)
        .map(async ([pk, floor]) => {
          await raiseFloor(this.options.dynamo, this.options.table, pk, floor);
          this.raisedAt.set(pk, now);
        }),
    );
  }

  /** Brings the floor of each given partition (`<topic>#<partition>`) up to its head; returns how many it raised. */
  async catchUp(pks: readonly string[]): Promise<number> {
    let raised = 0;
    for (const pk of pks) {
      const { dynamo, table } = this.options;
      const [head, meta] = await Promise.all([
        readHead(dynamo, table, pk),
        dynamo.send(
          new GetCommand({
            TableName: table,
            Key: { pk, sk: META_SK },
            ProjectionExpression: '#floor',
            ExpressionAttributeNames: { '#floor': 'floor' },
          }),
        ),
      ]);
      const floor = (meta.Item?.floor as number | undefined) ?? 0;
      if (head > floor && (await raiseFloor(dynamo, table, pk, head))) raised++;
    }
    return raised;
  }
}
