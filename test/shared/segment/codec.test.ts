import {
  brotliCompressSync,
  brotliDecompressSync,
  deflateRawSync,
  gunzipSync,
  gzipSync,
  inflateRawSync,
} from 'node:zlib';
import { crc32c } from '@aws-crypto/crc32c';
import fc from 'fast-check';
import { CorruptSegmentError } from '../../../shared/errors';
import {
  decodeSegment,
  encodeSegment,
  readSegmentHeader,
  type SegmentCodec,
  type SegmentRecord,
} from '../../../shared/segment/codec';

const HEADER_SIZE = 34;

const bytesArb = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));
const timestampArb = fc.oneof(
  fc.integer({ min: 0, max: 10_000_000 }).map((ms) => 1_700_000_000_000 + ms),
  fc.maxSafeNat().map((n) => n % 2 ** 52),
  fc.constantFrom(0, 2 ** 52 - 1),
);
const recordArb: fc.Arbitrary<SegmentRecord> = fc.record({
  timestamp: timestampArb,
  key: fc.option(bytesArb, { nil: null }),
  value: bytesArb,
  json: fc.boolean(),
  // Spread: fast-check may build null-prototype dictionaries; callers pass plain objects.
  headers: fc
    .dictionary(fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 40 }), {
      maxKeys: 5,
    })
    .map((headers) => ({ ...headers })),
});
const recordsArb = fc.array(recordArb, { minLength: 1, maxLength: 20 });
const codecArb = fc.constantFrom<SegmentCodec>('none', 'gzip', 'deflate-raw', 'brotli');
/** Codec ids as the header stores them (codec.ts). */
const CODEC_ID: Record<SegmentCodec, number> = { none: 0, gzip: 1, 'deflate-raw': 2, brotli: 3 };

/** A body compressed the codec's way, with Node's zlib directly rather than the codec's own code. */
function pack(codec: SegmentCodec, body: Uint8Array): Buffer {
  if (codec === 'gzip') return gzipSync(body);
  if (codec === 'deflate-raw') return deflateRawSync(body);
  if (codec === 'brotli') return brotliCompressSync(body);
  return Buffer.from(body);
}

function unpack(codec: SegmentCodec, stored: Buffer): Buffer {
  if (codec === 'gzip') return gunzipSync(stored);
  if (codec === 'deflate-raw') return inflateRawSync(stored);
  if (codec === 'brotli') return brotliDecompressSync(stored);
  return stored;
}
const segmentArb = fc
  .tuple(recordsArb, codecArb)
  .map(([records, codec]) => ({ records, codec, bytes: encodeSegment(records, { codec }).bytes }));

function record(overrides: Partial<SegmentRecord> = {}): SegmentRecord {
  return {
    timestamp: 1_700_000_000_000,
    key: Buffer.from('order-42'),
    value: Buffer.from('{"total":7}'),
    json: true,
    headers: { 'content-type': 'application/json' },
    ...overrides,
  };
}

/** What `decodeSegment` threw, or `undefined` when it returned records. */
function decodeError(bytes: Buffer, baseOffset = 0): unknown {
  try {
    decodeSegment(bytes, baseOffset);
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The checksum as the spec defines it, computed with the reference CRC32C package. */
function specCrc(bytes: Buffer): number {
  return crc32c(Buffer.concat([bytes.subarray(4, 30), bytes.subarray(HEADER_SIZE)]));
}

/** Rewrites the body length and CRC, so damage gets past the checksum and reaches the parser. */
function forgeChecksum(bytes: Buffer): Buffer {
  const forged = Buffer.from(bytes);
  forged.writeUInt32BE(forged.length - HEADER_SIZE, 26);
  forged.writeUInt32BE(specCrc(forged), 30);
  return forged;
}

/** A decode either returns records or refuses with CorruptSegmentError: never RangeError, TypeError, … */
function expectOnlyCorruptSegmentError(bytes: Buffer): void {
  const error = decodeError(bytes);
  if (error !== undefined) expect(error).toBeInstanceOf(CorruptSegmentError);
}

describe('encodeSegment / decodeSegment', () => {
  it('returns the records it was given, at offsets counted from the base offset', () => {
    fc.assert(
      fc.property(
        recordsArb,
        codecArb,
        fc.integer({ min: 0, max: 2 ** 50 }),
        (records, codec, baseOffset) => {
          const { bytes } = encodeSegment(records, { codec });
          expect(decodeSegment(bytes, baseOffset)).toEqual(
            records.map((r, i) => ({ ...r, offset: baseOffset + i })),
          );
        },
      ),
    );
  });

  it('reports the record count, first timestamp and max timestamp in the header', () => {
    fc.assert(
      fc.property(recordsArb, codecArb, (records, codec) => {
        const { bytes, ...header } = encodeSegment(records, { codec });
        const expected = {
          version: 1,
          codec,
          count: records.length,
          firstTimestamp: records[0].timestamp,
          maxTimestamp: Math.max(...records.map((r) => r.timestamp)),
          crc: specCrc(bytes),
        };
        expect(header).toEqual(expected);
        expect(readSegmentHeader(bytes)).toEqual(expected);
      }),
    );
  });

  it('lets the same bytes be committed at any base offset without re-encoding', () => {
    const { bytes } = encodeSegment([record(), record({ key: null }), record({ value: Buffer.alloc(0) })]);
    expect(decodeSegment(bytes, 0).map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(decodeSegment(bytes, 1_000_000).map((r) => r.offset)).toEqual([1_000_000, 1_000_001, 1_000_002]);
    expect(decodeSegment(bytes, 2 ** 50).map((r) => r.offset)).toEqual([2 ** 50, 2 ** 50 + 1, 2 ** 50 + 2]);
  });

  it('keeps a header named "__proto__" as an ordinary header', () => {
    const headers = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>;
    const [decoded] = decodeSegment(encodeSegment([record({ headers })]).bytes, 0);
    expect(Object.getPrototypeOf(decoded.headers)).toBe(Object.prototype);
    expect(Object.entries(decoded.headers)).toEqual([
      ['__proto__', 'x'],
      ['a', 'b'],
    ]);
  });

  it('returns records that do not change when the caller reuses the segment buffer', () => {
    const { bytes } = encodeSegment([record({ value: Buffer.from('hello') })]);
    const [decoded] = decodeSegment(bytes, 0);
    bytes.fill(0);
    expect(decoded.value.toString()).toBe('hello');
  });

  it.each<SegmentCodec>(['gzip', 'deflate-raw', 'brotli'])(
    'compresses a repetitive batch with %s',
    (codec) => {
      const records = Array.from({ length: 50 }, (_, i) =>
        record({ value: Buffer.from(JSON.stringify({ orderId: i, status: 'shipped', items: [] })) }),
      );
      const plain = encodeSegment(records, { codec: 'none' });
      const packed = encodeSegment(records, { codec });
      expect(packed.codec).toBe(codec);
      expect(readSegmentHeader(packed.bytes).codec).toBe(codec);
      expect(packed.bytes[5]).toBe(CODEC_ID[codec]);
      expect(packed.bytes.length).toBeLessThan(plain.bytes.length / 4);
      expect(decodeSegment(packed.bytes, 7)).toEqual(decodeSegment(plain.bytes, 7));
    },
  );

  it('reads a gzip segment of the first layout, built with zlib directly', () => {
    const plain = encodeSegment([record({ value: Buffer.from('{"a":1}') })]);
    const body = pack('gzip', plain.bytes.subarray(HEADER_SIZE));
    const header = Buffer.from(plain.bytes.subarray(0, HEADER_SIZE));
    header[5] = 1;
    header.writeUInt32BE(body.length, 26);
    expect(decodeSegment(forgeChecksum(Buffer.concat([header, body])), 3)).toEqual(
      decodeSegment(plain.bytes, 3),
    );
  });

  it('fails to encode an empty batch, as a programming error rather than corruption', () => {
    expect(() => encodeSegment([])).toThrow('at least one record');
    expect(() => encodeSegment([])).not.toThrow(CorruptSegmentError);
  });

  it.each([-1, 1.5, 2 ** 52, Number.NaN])('fails to encode a record with timestamp %p', (timestamp) => {
    expect(() => encodeSegment([record({ timestamp })])).toThrow('timestamp');
  });

  it('fails to decode at a base offset that is not a non-negative safe integer', () => {
    const { bytes } = encodeSegment([record(), record()]);
    expect(() => decodeSegment(bytes, -1)).toThrow(RangeError);
    expect(() => decodeSegment(bytes, 0.5)).toThrow(RangeError);
    expect(() => decodeSegment(bytes, Number.MAX_SAFE_INTEGER - 1)).toThrow(RangeError);
  });
});

describe('segment format version 1', () => {
  // Built by hand from the layout in codec.ts, so a change to the format (which
  // would strand segments already stored) fails here.
  const body = Buffer.from(
    [
      '01 00 00 02 6b 01 76 01 01 61 01 62', // json, offset Δ0, ts Δ0, key "k", value "v", 1 header a=b
      '00 02 0a 01 00 00', // not json, offset Δ1, ts Δ+5, null key, empty value, no headers
    ]
      .join(' ')
      .replaceAll(' ', ''),
    'hex',
  );
  const header = Buffer.from(
    [
      '45 42 53 31', // "EBS1"
      '01 00', // version 1, codec none
      '00 00 00 02', // 2 records
      '00 00 01 8b cf e5 68 00', // first timestamp 1700000000000
      '00 00 01 8b cf e5 68 05', // max timestamp 1700000000005
      '00 00 00 12', // body length 18
      '00 00 00 00', // CRC, filled in below
    ]
      .join(' ')
      .replaceAll(' ', ''),
    'hex',
  );
  const golden = Buffer.concat([header, body]);
  golden.writeUInt32BE(specCrc(golden), 30);
  const records: SegmentRecord[] = [
    {
      timestamp: 1_700_000_000_000,
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      json: true,
      headers: { a: 'b' },
    },
    { timestamp: 1_700_000_000_005, key: null, value: Buffer.alloc(0), json: false, headers: {} },
  ];

  it('encodes records exactly as the documented layout', () => {
    expect(encodeSegment(records).bytes.toString('hex')).toBe(golden.toString('hex'));
  });

  it('decodes a segment laid out as documented', () => {
    expect(decodeSegment(golden, 40)).toEqual([
      { ...records[0], offset: 40 },
      { ...records[1], offset: 41 },
    ]);
  });

  // A segment whose checksum matches but whose header and records disagree
  // (an encoder bug, or a CRC collision) is refused rather than half-trusted.
  it.each([
    ['the header max timestamp is not the records’ max', 25, 0x04, /max timestamp/],
    ['the first record is not at the first timestamp', HEADER_SIZE + 2, 0x02, /record 0 has timestamp/],
    ['a record’s offset delta is not its position', HEADER_SIZE + 13, 0x04, /record 1 has offset delta 2/],
    ['a record has an unknown attribute bit', HEADER_SIZE, 0x03, /unknown attributes 3/],
  ])('refuses a checksummed segment where %s', (_, index, byte, message) => {
    const damaged = Buffer.from(golden);
    damaged[index] = byte;
    expect(() => decodeSegment(forgeChecksum(damaged), 0)).toThrow(CorruptSegmentError);
    expect(() => decodeSegment(forgeChecksum(damaged), 0)).toThrow(message);
  });
});

describe('decodeSegment on damaged bytes', () => {
  it('refuses a segment with any single bit flipped', () => {
    fc.assert(
      fc.property(segmentArb, fc.nat(), ({ bytes }, bitSeed) => {
        const bit = bitSeed % (bytes.length * 8);
        const damaged = Buffer.from(bytes);
        damaged[bit >> 3] ^= 1 << (bit & 7);
        expect(decodeError(damaged)).toBeInstanceOf(CorruptSegmentError);
      }),
    );
  });

  it('refuses a segment with any single byte replaced', () => {
    fc.assert(
      fc.property(segmentArb, fc.nat(), fc.integer({ min: 1, max: 255 }), ({ bytes }, indexSeed, mask) => {
        const damaged = Buffer.from(bytes);
        damaged[indexSeed % bytes.length] ^= mask;
        expect(decodeError(damaged)).toBeInstanceOf(CorruptSegmentError);
      }),
    );
  });

  it('refuses a truncated segment', () => {
    fc.assert(
      fc.property(segmentArb, fc.nat(), ({ bytes }, lengthSeed) => {
        const truncated = bytes.subarray(0, lengthSeed % bytes.length);
        expect(decodeError(truncated)).toBeInstanceOf(CorruptSegmentError);
        expect(() => readSegmentHeader(truncated)).toThrow(CorruptSegmentError);
      }),
    );
  });

  it('refuses a segment with bytes appended', () => {
    fc.assert(
      fc.property(segmentArb, fc.uint8Array({ minLength: 1, maxLength: 16 }), ({ bytes }, extra) => {
        expect(decodeError(Buffer.concat([bytes, extra]))).toBeInstanceOf(CorruptSegmentError);
      }),
    );
  });

  it('refuses random bytes with CorruptSegmentError and no other error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (garbage) => {
        expect(decodeError(Buffer.from(garbage))).toBeInstanceOf(CorruptSegmentError);
      }),
    );
  });

  it('refuses random bytes behind a valid magic, version and codec', () => {
    fc.assert(
      fc.property(codecArb, fc.uint8Array({ maxLength: 400 }), (codec, garbage) => {
        const prefix = Buffer.from([0x45, 0x42, 0x53, 0x31, 1, CODEC_ID[codec]]);
        expect(decodeError(Buffer.concat([prefix, garbage]))).toBeInstanceOf(CorruptSegmentError);
      }),
    );
  });

  it('refuses an unknown version or codec', () => {
    const { bytes } = encodeSegment([record()]);
    for (const [index, value] of [
      [4, 2],
      [4, 0],
      [5, 4],
      [5, 255],
    ]) {
      const damaged = Buffer.from(bytes);
      damaged[index] = value;
      expect(() => readSegmentHeader(forgeChecksum(damaged))).toThrow(CorruptSegmentError);
      expect(decodeError(forgeChecksum(damaged))).toBeInstanceOf(CorruptSegmentError);
    }
  });
});

// The checksum stops all of the above before parsing. These forge a valid
// checksum over damaged bodies, so the parser's own bounds checks are what is
// tested: a segment that slips past the CRC still cannot crash a reader.
describe('decodeSegment on damaged bodies with a valid checksum', () => {
  it('never fails with anything but CorruptSegmentError when a body byte changes', () => {
    fc.assert(
      fc.property(
        segmentArb,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        ({ bytes, codec }, indexSeed, mask) => {
          const header = bytes.subarray(0, HEADER_SIZE);
          const body = Buffer.from(unpack(codec, bytes.subarray(HEADER_SIZE)));
          body[indexSeed % body.length] ^= mask;
          expectOnlyCorruptSegmentError(forgeChecksum(Buffer.concat([header, pack(codec, body)])));
        },
      ),
    );
  });

  it('never fails with anything but CorruptSegmentError when the body is truncated or extended', () => {
    fc.assert(
      fc.property(segmentArb, fc.integer({ min: -40, max: 40 }), ({ bytes, codec }, change) => {
        const header = bytes.subarray(0, HEADER_SIZE);
        const body = unpack(codec, bytes.subarray(HEADER_SIZE));
        const resized =
          change < 0
            ? body.subarray(0, Math.max(0, body.length + change))
            : Buffer.concat([body, Buffer.alloc(change, 0x81)]);
        const forged = forgeChecksum(Buffer.concat([header, pack(codec, resized)]));
        if (change !== 0) expect(decodeError(forged)).toBeInstanceOf(CorruptSegmentError);
      }),
    );
  });

  it('never fails with anything but CorruptSegmentError on a random body and header', () => {
    fc.assert(
      fc.property(
        codecArb,
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ maxLength: 300 }),
        (codec, count, timestamps, body) => {
          const header = Buffer.alloc(HEADER_SIZE);
          header.write('EBS1', 0, 'latin1');
          header[4] = 1;
          header[5] = CODEC_ID[codec];
          header.writeUInt32BE(count, 6);
          Buffer.from(timestamps).copy(header, 10);
          const stored = pack(codec, body);
          expectOnlyCorruptSegmentError(forgeChecksum(Buffer.concat([header, stored])));
        },
      ),
    );
  });

  it('refuses a record claiming a huge key instead of allocating it', () => {
    const { bytes } = encodeSegment([record()]);
    const damaged = Buffer.from(bytes);
    // Record 0 starts with attributes, offset Δ, timestamp Δ: the key length follows.
    const keyLengthAt = HEADER_SIZE + 3;
    const huge = Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]); // zigzag 2^48 - 1
    const forged = forgeChecksum(
      Buffer.concat([damaged.subarray(0, keyLengthAt), huge, damaged.subarray(keyLengthAt + 1)]),
    );
    expect(() => decodeSegment(forged, 0)).toThrow(CorruptSegmentError);
    expect(() => decodeSegment(forged, 0)).toThrow(/overruns/);
  });

  it('refuses a gzip segment claiming more records than its body can hold', () => {
    const { bytes } = encodeSegment([record()], { codec: 'gzip' });
    const damaged = Buffer.from(bytes);
    damaged.writeUInt32BE(2 ** 32 - 1, 6);
    expect(() => decodeSegment(forgeChecksum(damaged), 0)).toThrow(/claims 4294967295 records/);
  });

  it('refuses a varint that never ends', () => {
    const header = encodeSegment([record()]).bytes.subarray(0, HEADER_SIZE);
    const body = Buffer.from([0x00, ...new Array(20).fill(0xff)]);
    expect(() => decodeSegment(forgeChecksum(Buffer.concat([header, body])), 0)).toThrow(CorruptSegmentError);
  });
});
