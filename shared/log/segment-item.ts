/** One committed segment in the log table (see ARCHITECTURE.md, Storage). */
export interface SegmentItem {
  /** `<topic>#<partition>` */
  readonly pk: string;
  /** Base offset: the offset of the segment's first event. */
  readonly sk: number;
  /** Offset of the segment's last event. */
  readonly last: number;
  readonly count: number;
  readonly firstTs: number;
  readonly maxTs: number;
  /** Encoded size in bytes. */
  readonly bytes: number;
  readonly codec: string;
  readonly crc: number;
  /** The encoded segment, when stored inline. */
  readonly data?: Uint8Array;
  /** Where the encoded segment is, when stored in S3. */
  readonly s3Key?: string;
  /** TTL, epoch seconds: commit time + the topic's retention. Readers treat the segment as gone after it. */
  readonly expiresAt: number;
  /** Unique per encoded segment: lets a writer recognise its own commit after a lost answer. */
  readonly segmentId: string;
}

export function isExpired(item: Pick<SegmentItem, 'expiresAt'>, nowMs: number): boolean {
  return item.expiresAt * 1000 <= nowMs;
}
