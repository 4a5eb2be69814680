import { type EncodedSegment, encodeSegment, type SegmentCodec, type SegmentRecord } from '../segment/codec';
import { writeUnits } from './item-size';
import { segmentItem } from './segment-item';

/** Segments up to this many times the inline threshold are compressed to see whether they fit inline. */
const COMPRESS_TO_INLINE_FACTOR = 2;

/** Offsets are safe integers: an item priced at this base offset is never smaller than the real one. */
const WIDEST_OFFSET = Number.MAX_SAFE_INTEGER - 2 ** 32;

/** Where a segment goes and how it is encoded: what its price depends on. */
export interface SegmentPricing {
  readonly pk: string;
  readonly segmentId: string;
  /** The item's TTL (epoch seconds): part of its size. */
  readonly expiresAt: number;
  readonly inlineThresholdBytes: number;
  readonly codec: SegmentCodec;
}

/**
 * Encodes the records with the configured codec. When that is `none`, a
 * segment is compressed (brotli) where that saves money (docs/adr/0008):
 * an inline segment when its item then costs fewer write units, and a
 * segment of up to twice the inline threshold when it then fits inline,
 * which spares its S3 PUT (at list prices one PUT costs as much as 8 write
 * units: about the threshold's worth). The threshold bounds stored bytes.
 *
 * @example
 * const { segment, inline } = encodeForLog(records, { pk, segmentId, expiresAt, inlineThresholdBytes: 8192, codec: 'none' });
 */
export function encodeForLog(
  records: SegmentRecord[],
  pricing: SegmentPricing,
): { segment: EncodedSegment; inline: boolean } {
  const { inlineThresholdBytes: threshold, codec, pk, segmentId, expiresAt } = pricing;
  const plain = encodeSegment(records, { codec });
  const plainInline = plain.bytes.length <= threshold;
  // Events of JSON compress 2-3 times in a segment; past twice the threshold, trying mostly wastes CPU.
  if (codec !== 'none' || plain.bytes.length > COMPRESS_TO_INLINE_FACTOR * threshold) {
    return { segment: plain, inline: plainInline };
  }
  // The offset is not known yet: price the item at the widest offsets, reserved (it never understates it).
  const units = (segment: EncodedSegment) =>
    writeUnits(
      segmentItem(pk, WIDEST_OFFSET, segment, segmentId, expiresAt, { rt: Number.MAX_SAFE_INTEGER }),
    );
  if (plainInline && units(plain) === 1) return { segment: plain, inline: true };
  const packed = encodeSegment(records, { codec: 'brotli' });
  if (packed.bytes.length > threshold) return { segment: plain, inline: plainInline };
  if (!plainInline || units(packed) < units(plain)) return { segment: packed, inline: true };
  return { segment: plain, inline: true };
}
