import type { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { EncodedSegment } from '../segment/codec';

/**
 * One committed segment in the log table (see ARCHITECTURE.md, Storage), as
 * written since docs/adr/0008-one-write-unit.md: only what readers, the time
 * index, TTL and the stream need, under short names where nothing outside
 * the log depends on the name. DynamoDB bills every attribute name's bytes
 * on every write, so a 1 KiB event fits one write unit only with a lean item.
 *
 * The first layout (`data`, `segmentId`, `firstTs`, `bytes`, `codec`, `crc`)
 * stays readable: deployments hold items written in it until they expire.
 * `firstTs`, `bytes`, `codec` and `crc` are in the segment's own header,
 * which its CRC covers, so no reader needs them in the item.
 */
export interface SegmentItem {
  /** `<topic>#<partition>` */
  readonly pk: string;
  /** Base offset: the offset of the segment's first event. */
  readonly sk: number;
  /** Offset of the segment's last event; the stream's consumer and the head read it. */
  readonly last: number;
  readonly count: number;
  /** Newest append time in the segment (ms): the time index's sort key. */
  readonly maxTs: number;
  /** TTL, epoch seconds: commit time + the topic's retention. Readers treat the segment as gone after it. */
  readonly expiresAt: number;
  /** Unique per encoded segment: lets a writer recognise its own commit after a lost answer. */
  readonly id?: string;
  /** The encoded segment, when stored inline. */
  readonly d?: Uint8Array;
  /** Where the encoded segment is, when stored in S3. */
  readonly s3Key?: string;
  /** First layout: the segment id. */
  readonly segmentId?: string;
  /** First layout: the inline segment. */
  readonly data?: Uint8Array;
  /**
   * Reserved at (epoch ms, the writer's clock once its reservation was
   * answered): present on every item of a reserved epoch
   * (docs/adr/0011-reserved-epochs.md). Every hole below the item was
   * reserved before it, so no writer commits into such a hole after
   * `rt + RESERVATION_COMMIT_MS`, and readers may fill it with a gap later.
   */
  readonly rt?: number;
  /** A gap: offsets `sk` .. `last` hold no event (count 0); readers skip them. */
  readonly gap?: boolean;
  /** The gap that ends a reserved epoch: optimistic commits go on after it. */
  readonly closes?: boolean;
}

/**
 * The log item of a segment at base offset `head`, in the current layout
 * (shared/log/segment-item.ts): inline bytes under `d`, or the S3 key; `rt`
 * when committed in a reserved epoch.
 */
export function segmentItem(
  pk: string,
  head: number,
  segment: EncodedSegment,
  segmentId: string,
  expiresAt: number,
  where: { s3Key?: string; rt?: number },
): SegmentItem {
  return {
    pk,
    sk: head,
    last: head + segment.count - 1,
    count: segment.count,
    maxTs: segment.maxTimestamp,
    expiresAt,
    id: segmentId,
    ...(where.s3Key === undefined ? { d: segment.bytes } : { s3Key: where.s3Key }),
    ...(where.rt === undefined ? {} : { rt: where.rt }),
  };
}

/** The segment id's attribute name in the current layout, for projections. */
export const SEGMENT_ID_ATTRIBUTE = 'id';

export function isExpired(item: Pick<SegmentItem, 'expiresAt'>, nowMs: number): boolean {
  return item.expiresAt * 1000 <= nowMs;
}

/** Whether the item is in a reserved epoch, where holes below it are reservations not yet committed. */
export function isReserved(item: Pick<SegmentItem, 'rt' | 'closes'>): boolean {
  return item.rt !== undefined && !item.closes;
}

/** The segment's id, in either layout. */
export function segmentIdOf(item: Pick<SegmentItem, 'id' | 'segmentId'>): string | undefined {
  return item.id ?? item.segmentId;
}

/** The inline segment bytes, in either layout; undefined when the segment is in S3. */
export function inlineBytesOf(item: Pick<SegmentItem, 'd' | 'data'>): Uint8Array | undefined {
  return item.d ?? item.data;
}

/**
 * The item a conditional put found where it meant to write, as DynamoDB
 * returned it (`ALL_OLD`, raw attribute values): its segment id in either
 * layout, its last offset, and whether it opened or belongs to a reserved
 * epoch (docs/adr/0011).
 */
export function conflictingItem(error: ConditionalCheckFailedException): {
  id?: string;
  last?: number;
  opened: boolean;
} {
  const item = error.Item ?? {};
  const id = (item.id ?? item.segmentId) as { S?: string } | string | undefined;
  const last = (item.last as { N?: string } | undefined)?.N;
  return {
    id: typeof id === 'string' ? id : id?.S,
    last: last === undefined ? undefined : Number(last),
    opened: item.rt !== undefined && item.closes === undefined,
  };
}
