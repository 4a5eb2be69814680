import { type DynamoDBDocumentClient, paginateQuery, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { LRUCache } from 'lru-cache';
import { OffsetOutOfRangeError } from '../errors';
import { type MetricsPort, NO_METRICS } from '../observability/metrics';
import { decodeSegment, type LogRecord } from '../segment/codec';
import { readHead } from './head';
import { partitionKey } from './partition-key';
import { Reservations, SETTLE_AFTER_MS } from './reservations';
import {
  inlineBytesOf,
  isExpired,
  isReserved,
  SEGMENT_ID_ATTRIBUTE,
  type SegmentItem,
  segmentIdOf,
} from './segment-item';
import type { SegmentStore } from './segment-store';

export interface ReaderOptions {
  /** Told of offsets settled as gaps. @default none */
  readonly metrics?: Pick<MetricsPort, 'settledOffsets'>;
  readonly dynamo: DynamoDBDocumentClient;
  readonly segments: SegmentStore;
  readonly table: string;
  /** The time index on `maxTs` (global, so eventually consistent). */
  readonly timeIndex: string;
  readonly now?: () => number;
}

export interface ReadResult {
  readonly records: LogRecord[];
  /** The offset to read from next. */
  readonly nextOffset: number;
}

export interface PartitionOffsets {
  /** The lowest retained offset. */
  readonly startOffset: number;
  /** The offset the next event will get. */
  readonly endOffset: number;
}

/** Bytes of events one read returns at most: room for JSON and base64 overhead within 6 MB. */
export const DEFAULT_READ_BYTES = 3 * 1024 * 1024;

function recordBytes(record: LogRecord): number {
  let bytes = record.value.length + (record.key?.length ?? 0);
  for (const [name, value] of Object.entries(record.headers)) bytes += name.length + value.length;
  return bytes;
}

/** Bytes of segment objects a reader keeps in memory. */
const OBJECT_CACHE_BYTES = 32 * 1024 * 1024;

/** How many segments a time seek walks back when the time index has not caught up (index lag is sub-second). */
const TAIL_WALK_SEGMENTS = 1_000;
/**
 * How far apart two instances' clocks may be, for the rules that compare
 * one instance's time with another's (as the settling rule of ADR 11 does).
 */
const INSTANCE_CLOCK_SKEW_MS = 60_000;
/** Items per page when looking for a segment by its id: a read unit per 4 KB of the items read, projected or not, and the segment is usually near the start. */
const FIND_PAGE = 100;

/** Segments fetched per Query page while reading forward. */
const PAGE = 25;

/**
 * Reads a partition by offset or by time. Segments past their `expiresAt`
 * are gone to readers even before DynamoDB's TTL deletes them.
 */
export class LogReader {
  private readonly now: () => number;
  /** Recently read segment objects by S3 key, least recently used first. */
  private readonly objectCache = new LRUCache<string, Buffer>({
    maxSize: OBJECT_CACHE_BYTES,
    sizeCalculation: (bytes) => Math.max(1, bytes.length),
  });

  private readonly reservations: Reservations;

  constructor(private readonly options: ReaderOptions) {
    this.now = options.now ?? Date.now;
    this.reservations = new Reservations(options.dynamo, options.table, this.now);
  }

  /**
   * Reads up to `limit` events from `offset` on, and no more than about
   * `maxBytes` of keys, values and headers (at least one event), so an answer
   * fits a Lambda response (6 MB). An offset at or past the end
   * gives no events; one below the start throws OffsetOutOfRangeError.
   * Gaps are skipped (`nextOffset` goes past them); a read stops at a hole
   * of a reserved epoch, and settles it once it is old enough.
   */
  async read(
    topic: string,
    partition: number,
    offset: number,
    limit: number,
    maxBytes = DEFAULT_READ_BYTES,
  ): Promise<ReadResult> {
    return this.readFrom(topic, partition, offset, limit, maxBytes, { settle: true });
  }

  /** `read`, which settles at most one hole (`settle`) and then reads again. */
  private async readFrom(
    topic: string,
    partition: number,
    offset: number,
    limit: number,
    maxBytes: number,
    { settle }: { settle: boolean },
  ): Promise<ReadResult> {
    const pk = partitionKey(topic, partition);
    const now = this.now();
    // The item holding `offset` is the one with the greatest base offset at or below it.
    const containing = await this.query({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :zero AND :offset',
      ExpressionAttributeValues: { ':pk': pk, ':zero': 0, ':offset': offset },
      ScanIndexForward: false,
      Limit: 1,
    });
    const first = containing[0];
    if (!first || isExpired(first, now)) {
      // Below the first retained segment (or in an expired one TTL has not deleted yet).
      const { startOffset } = await this.offsets(topic, partition);
      if (offset < startOffset) throw new OffsetOutOfRangeError(offset, startOffset);
      if (!first) return { records: [], nextOffset: offset };
    }
    // Past a calm item (or an epoch's closing gap): the end. In a reserved epoch, items may lie beyond a hole.
    if (first.last < offset && !isReserved(first)) return { records: [], nextOffset: offset };

    const records: LogRecord[] = [];
    let bytes = 0;
    // The next offset to account for, and where the next item must begin for there to be no hole.
    let position = offset;
    let expected = first.last < offset ? first.last + 1 : first.sk;
    // The containing item is at hand; later ones are queried only if the read goes on to them.
    const items = (async function* (reader: LogReader) {
      if (first.last >= offset) yield first;
      yield* reader.walk(pk, { from: first.sk + 1 });
    })(this);
    reading: for await (const item of items) {
      if (item.sk > expected && item.rt !== undefined) {
        // A hole in a reserved epoch: offsets reserved and not (yet) committed. Readers wait at it, never
        // skip it, until its writer commits or it is settled.
        if (records.length === 0 && settle && now >= item.rt + SETTLE_AFTER_MS) {
          await this.settle(pk, expected, item);
          return this.readFrom(topic, partition, offset, limit, maxBytes, { settle: false });
        }
        break;
      }
      expected = item.last + 1;
      if (item.gap) {
        position = Math.max(position, item.last + 1);
        continue;
      }
      for (const record of await this.decode(item)) {
        if (record.offset < position) continue;
        bytes += recordBytes(record);
        if (records.length >= limit || (records.length > 0 && bytes > maxBytes)) break reading;
        records.push(record);
        position = record.offset + 1;
      }
      // Full: stop before the walk fetches the next item.
      if (records.length >= limit) break;
    }
    return { records, nextOffset: position };
  }

  /**
   * Fills the hole from `from` up to `above` with gaps (docs/adr/0011): by now
   * no writer may commit there any more, so what is still missing after a
   * fresh look never will be. Each gap is conditional, so a commit that did
   * land wins.
   */
  private async settle(pk: string, from: number, above: SegmentItem): Promise<void> {
    const committed = await this.query({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': pk, ':from': from, ':to': above.sk - 1 },
      ProjectionExpression: 'sk, #last',
      ExpressionAttributeNames: { '#last': 'last' },
    });
    const marks = { rt: above.rt as number, expiresAt: above.expiresAt };
    let start = from;
    for (const item of [...committed, { sk: above.sk, last: above.last }]) {
      if (item.sk > start && (await this.reservations.putGap(pk, start, item.sk - 1, marks)).placed) {
        // Each settled offset is an event some writer reserved and never committed: one that died.
        (this.options.metrics ?? NO_METRICS).settledOffsets(item.sk - start);
      }
      start = Math.max(start, item.last + 1);
    }
  }

  /** The first offset whose event was appended at or after `timestamp` (ms), or the end offset if none. */
  async offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number> {
    const pk = partitionKey(topic, partition);
    const { startOffset, endOffset } = await this.offsets(topic, partition);
    const [hit] = await this.query(
      {
        IndexName: this.options.timeIndex,
        KeyConditionExpression: 'pk = :pk AND maxTs >= :ts',
        ExpressionAttributeValues: { ':pk': pk, ':ts': timestamp },
        Limit: 1,
      },
      false,
    );
    const found = hit ? hit.sk : await this.firstInTail(pk, timestamp);
    if (found === undefined) return endOffset;
    const segment = await this.segmentAt(pk, found);
    if (!segment || isExpired(segment, this.now())) return startOffset;
    const record = (await this.decode(segment)).find((r) => r.timestamp >= timestamp);
    return Math.max(startOffset, record ? record.offset : segment.last + 1);
  }

  /**
   * The time index is eventually consistent: for a moment it may not list the
   * newest segments. When it lists none at or after `timestamp`, walk back
   * from the head (strongly consistent) over the segments appended at or after
   * it, and return the earliest one's base offset.
   */
  private async firstInTail(pk: string, timestamp: number): Promise<number | undefined> {
    let earliest: number | undefined;
    let walked = 0;
    for await (const item of this.walk(pk, { newestFirst: true, projection: 'sk, maxTs, gap' })) {
      // A gap has no events, so no time.
      if (item.gap) continue;
      if (item.maxTs < timestamp || ++walked > TAIL_WALK_SEGMENTS) break;
      earliest = item.sk;
    }
    return earliest;
  }

  /**
   * The segment committed with `segmentId` at or above `fromOffset` by an
   * attempt that could commit only before `committedBefore` (epoch ms);
   * undefined when it is not there.
   *
   * The walk ends by time, not by a count of segments, so a crowded
   * partition cannot push the segment out of its reach. Every item between
   * `fromOffset` and the segment was committed before it (optimistic
   * commits) or reserved before it (an epoch), and events are stamped before
   * their segment is committed or reserved. So no item below the segment
   * holds events stamped after `committedBefore`, and the first item that
   * does (allowing for the clocks of two instances) lies above it.
   */
  async findSegment(
    topic: string,
    partition: number,
    segmentId: string,
    fromOffset: number,
    committedBefore: number,
  ): Promise<{ baseOffset: number; count: number } | undefined> {
    for await (const item of this.walk(partitionKey(topic, partition), {
      from: fromOffset,
      // Both layouts' names: a partition may hold items of each (shared/log/segment-item.ts).
      projection: 'sk, #count, #id, segmentId, maxTs',
      names: { '#count': 'count', '#id': SEGMENT_ID_ATTRIBUTE },
      pageSize: FIND_PAGE,
    })) {
      if (segmentIdOf(item) === segmentId) return { baseOffset: item.sk, count: item.count };
      // Gaps carry no `maxTs`: they say nothing of time, and the walk goes on past them.
      if (item.maxTs > committedBefore + INSTANCE_CLOCK_SKEW_MS) return undefined;
    }
    return undefined;
  }

  /** The offset the next event will get: one strongly consistent Query. */
  endOffset(topic: string, partition: number): Promise<number> {
    return readHead(this.options.dynamo, this.options.table, partitionKey(topic, partition));
  }

  /** The partition's retained range: `[startOffset, endOffset)`. */
  async offsets(topic: string, partition: number): Promise<PartitionOffsets> {
    const pk = partitionKey(topic, partition);
    const now = this.now();
    const endOffset = await readHead(this.options.dynamo, this.options.table, pk);
    // Expired segments may linger until TTL deletes them; the start is the first one still retained.
    for await (const item of this.walk(pk, { projection: 'sk, expiresAt', pageSize: 100 })) {
      if (!isExpired(item, now)) return { startOffset: item.sk, endOffset };
    }
    return { startOffset: endOffset, endOffset };
  }

  /**
   * A partition's segments from base offset `from` on, oldest first (or newest
   * first), with strongly consistent reads, one page at a time as the caller
   * consumes them: a caller that stops early reads no further.
   */
  private async *walk(
    pk: string,
    options: {
      from?: number;
      newestFirst?: boolean;
      projection?: string;
      names?: Record<string, string>;
      pageSize?: number;
    } = {},
  ): AsyncGenerator<SegmentItem> {
    const pages = paginateQuery(
      { client: this.options.dynamo, pageSize: options.pageSize ?? PAGE },
      {
        TableName: this.options.table,
        KeyConditionExpression: 'pk = :pk AND sk >= :from',
        ExpressionAttributeValues: { ':pk': pk, ':from': options.from ?? 0 },
        ProjectionExpression: options.projection,
        ExpressionAttributeNames: options.names,
        ScanIndexForward: !options.newestFirst,
        ConsistentRead: true,
      },
    );
    // The paginator asks for the next page only when this one is consumed.
    for await (const page of pages) yield* (page.Items ?? []) as SegmentItem[];
  }

  private async segmentAt(pk: string, sk: number): Promise<SegmentItem | undefined> {
    const [item] = await this.query({
      KeyConditionExpression: 'pk = :pk AND sk = :sk',
      ExpressionAttributeValues: { ':pk': pk, ':sk': sk },
    });
    return item;
  }

  private async decode(segment: SegmentItem): Promise<LogRecord[]> {
    const inline = inlineBytesOf(segment);
    return decodeSegment(inline ? Buffer.from(inline) : await this.objectBytes(segment), segment.sk);
  }

  /**
   * A segment object's bytes. Segments never change once committed, so the
   * last few megabytes read stay in memory: a reader paging through a large
   * segment downloads it once, not once per page.
   */
  private async objectBytes(segment: SegmentItem): Promise<Buffer> {
    const key = segment.s3Key as string;
    const cached = this.objectCache.get(key);
    if (cached) return cached;
    const bytes = await this.options.segments.get(key);
    // A segment larger than the whole cache is served but not kept.
    if (bytes.length <= OBJECT_CACHE_BYTES) this.objectCache.set(key, bytes);
    return bytes;
  }

  private async query(
    input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>,
    consistent = true,
  ): Promise<SegmentItem[]> {
    const result = await this.options.dynamo.send(
      new QueryCommand({ TableName: this.options.table, ConsistentRead: consistent, ...input }),
    );
    return (result.Items ?? []) as SegmentItem[];
  }
}
