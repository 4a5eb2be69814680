import { randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { partitionKey } from '../shared/log/partition-key';
import { segmentItem } from '../shared/log/segment-item';
import { decodeSegment, encodeSegment, type SegmentRecord } from '../shared/segment/codec';

/** TTL of the prototype's items: a day, as the benchmark's topics keep. */
const ttlInADay = () => Math.ceil(Date.now() / 1000) + 24 * 3600;

/** How far behind its own clock a sequencer cuts, so a staged put still in flight is not passed over (ms). */
const CUT_LAG_MS = 4;
/** A follower reads the top again this often until its events are in the log (ms). */
const POLL_MS = 3;
/** A staged event older than this with no sequencer is taken over by whoever sees it (ms). */
const TAKEOVER_MS = 1_000;
/** Staged events are looked for this far back: an older one's writer gave up long ago (ms). */
const LOOKBACK_MS = 10_000;

interface Staged {
  readonly sk: number;
  readonly n: number;
  readonly d: Uint8Array;
}

interface Combined {
  readonly sk: number;
  readonly last: number;
  /** The newest stamp this segment or one below it took in: staged events at or below it are decided. */
  readonly cut: number;
  /** The stamps it holds, in offset order, and how many events each brought. */
  readonly st: number[];
  readonly n: number[];
}

/**
 * A PROTOTYPE of a combiner, for measuring only (docs/adr/0012): not used by
 * the bus. Each writer stages its events (one unconditional put under the
 * partition's staging key, sorted by a stamp: its clock in µs plus a random
 * part); the writer whose stamp is the oldest undecided one becomes the
 * sequencer and commits every staged event up to its cut as one segment at
 * the head (a conditional put, as the optimistic commit), listing the stamps
 * it took; the others read the top until their stamp is decided. A stamp
 * that landed below a cut after the sequencer had looked (a put in flight)
 * is never taken: its writer stages again.
 *
 * Left out, and why it is not in shared/log: a fresh partition only (no
 * floor, no calm mode to switch from), no S3 segments, and no crash tests.
 */
export class CombiningAppender {
  /** Writers that found their stamp passed over and staged again. */
  restaged = 0;

  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async append(topic: string, partition: number, records: SegmentRecord[]): Promise<number> {
    const pk = partitionKey(topic, partition);
    const staging = `${pk}#staged`;
    const d = encodeSegment(records, { codec: 'brotli' }).bytes;
    for (;;) {
      const stamp = Date.now() * 1000 + randomInt(1000);
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: staging,
            sk: stamp,
            n: records.length,
            d,
            expiresAt: Math.ceil(Date.now() / 1000) + 3600,
          },
        }),
      );
      const offset = await this.settle(pk, staging, stamp);
      if (offset !== undefined) return offset;
      this.restaged++;
    }
  }

  /** Waits until `stamp` is decided (sequencing it when it is the oldest): its base offset, or undefined when it was passed over. */
  private async settle(pk: string, staging: string, stamp: number): Promise<number | undefined> {
    await sleep(Math.max(0, stamp / 1000 + CUT_LAG_MS - Date.now()));
    let lookedAt: number | undefined;
    for (;;) {
      const top = await this.top(pk);
      if (top && top.cut >= stamp) return this.find(pk, stamp, top);
      // The staged events are read again only when the log moved since they were last read, or a sequencer seems gone.
      if (
        lookedAt === undefined ||
        lookedAt !== (top?.last ?? -1) ||
        stamp / 1000 + TAKEOVER_MS < Date.now()
      ) {
        lookedAt = top?.last ?? -1;
        const committed = await this.sequence(pk, staging, stamp, top);
        if (committed !== undefined) return committed;
      } else {
        await sleep(POLL_MS);
      }
    }
  }

  /** Commits the staged events up to the cut when `stamp` is the oldest (or the oldest looks abandoned). */
  private async sequence(
    pk: string,
    staging: string,
    stamp: number,
    top: Combined | undefined,
  ): Promise<number | undefined> {
    const cutBefore = top?.cut ?? 0;
    const after = Math.max(cutBefore, stamp - LOOKBACK_MS * 1000);
    // Whether this writer sequences is told by the oldest undecided stamp alone: one item, one read unit.
    // Only the sequencer then reads every staged event (a read unit per 4 KB of them).
    const [oldest] = await this.staged(staging, after, 1);
    if (!oldest || (oldest.sk !== stamp && oldest.sk / 1000 + TAKEOVER_MS > Date.now())) {
      await sleep(POLL_MS);
      return undefined;
    }
    const cut = (Date.now() - CUT_LAG_MS) * 1000;
    const taken = (await this.staged(staging, after)).filter((s) => s.sk <= cut);
    if (taken.length === 0) return undefined;
    const base = top ? top.last + 1 : 0;
    const records: SegmentRecord[] = taken.flatMap((s) => decodeSegment(Buffer.from(s.d), 0));
    const segment = encodeSegment(records, { codec: 'brotli' });
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...segmentItem(pk, base, segment, randomBytes(12).toString('base64url'), ttlInADay(), {}),
            cut: taken[taken.length - 1].sk,
            st: taken.map((s) => s.sk),
            n: taken.map((s) => s.n),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw error;
    }
    return offsetIn(
      { sk: base, last: 0, cut: 0, st: taken.map((s) => s.sk), n: taken.map((s) => s.n) },
      stamp,
    );
  }

  private async staged(staging: string, after: number, limit?: number): Promise<Staged[]> {
    const answer = await this.dynamo.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk > :after',
        ExpressionAttributeValues: { ':pk': staging, ':after': after },
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    return (answer.Items ?? []) as Staged[];
  }

  private async top(pk: string): Promise<Combined | undefined> {
    const answer = await this.dynamo.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk >= :zero',
        ExpressionAttributeValues: { ':pk': pk, ':zero': 0 },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    return answer.Items?.[0] as Combined | undefined;
  }

  /** The base offset of `stamp` in the segment that decided it, walking down from the top; undefined when it was passed over. */
  private async find(pk: string, stamp: number, top: Combined): Promise<number | undefined> {
    let item = top;
    for (;;) {
      if (item.cut < stamp) return undefined;
      const offset = offsetIn(item, stamp);
      if (offset !== undefined) return offset;
      if (item.sk === 0) return undefined;
      const below: QueryCommandOutput = await this.dynamo.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :zero AND :below',
          ExpressionAttributeValues: { ':pk': pk, ':zero': 0, ':below': item.sk - 1 },
          ScanIndexForward: false,
          Limit: 4,
          ConsistentRead: true,
        }),
      );
      const items = (below.Items ?? []) as Combined[];
      for (const candidate of items) {
        if (candidate.cut < stamp) return undefined;
        const found = offsetIn(candidate, stamp);
        if (found !== undefined) return found;
      }
      if (items.length === 0) return undefined;
      item = items[items.length - 1];
    }
  }
}

function offsetIn(item: Combined, stamp: number): number | undefined {
  let offset = item.sk;
  for (let i = 0; i < item.st.length; i++) {
    if (item.st[i] === stamp) return offset;
    offset += item.n[i];
  }
  return undefined;
}
