/**
 * The segment format: one encoded batch of records, the unit the log commits
 * (modelled on Kafka's RecordBatch). Offsets inside are deltas, so the same
 * bytes can be committed at whatever base offset the append wins.
 *
 * All integers are big-endian. Header (34 bytes):
 *
 * ```
 *  0       4   5   6       10              18              26      30      34
 *  +-------+---+---+-------+---------------+---------------+-------+-------+
 *  | magic |ver|cod| count | firstTimestamp| maxTimestamp  |bodyLen| crc32c|
 *  | EBS1  |u8 |u8 |  u32  |  i64 (ms)     |  i64 (ms)     |  u32  |  u32  |
 *  +-------+---+---+-------+---------------+---------------+-------+-------+
 *           \______________________ crc32c covers ______________/ + body
 * ```
 *
 * Body: `count` records, compressed as a whole by the codec: 0 none, 1 gzip,
 * 2 raw deflate, 3 brotli (docs/adr/0008-one-write-unit.md). Every codec
 * stays readable: segments already written keep the id they were written with.
 * Each record (zz = zigzag varint, uv = unsigned varint):
 *
 * ```
 *  attributes u8 (bit 0 = json) | offsetDelta zz | timestampDelta zz
 *  keyLength zz (-1 = null) | key bytes | valueLength uv | value bytes
 *  headerCount uv | { keyLength uv | key utf8 | valueLength uv | value utf8 } * headerCount
 * ```
 */

import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateRawSync,
  gunzipSync,
  gzipSync,
  inflateRawSync,
} from 'node:zlib';
import { CorruptSegmentError } from '../errors';

export type SegmentCodec = 'none' | 'gzip' | 'deflate-raw' | 'brotli';

export interface SegmentRecord {
  /** Epoch milliseconds: an integer from 0 to 2^52 - 1. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer;
  /** The value was published as JSON (a read returns it parsed). Stored as a bit of the record's attributes byte. */
  json: boolean;
  headers: Record<string, string>;
}

export interface LogRecord extends SegmentRecord {
  offset: number;
}

export interface SegmentHeader {
  version: number;
  codec: SegmentCodec;
  count: number;
  firstTimestamp: number;
  maxTimestamp: number;
  /** CRC32C of the header after the magic and of the stored (possibly compressed) body. */
  crc: number;
}

export interface EncodedSegment extends SegmentHeader {
  bytes: Buffer;
}

const MAGIC = 0x45425331; // "EBS1"
const VERSION = 1;
const HEADER_SIZE = 34;
const CRC_OFFSET = 30;
const CODEC_IDS: Record<SegmentCodec, number> = { none: 0, gzip: 1, 'deflate-raw': 2, brotli: 3 };
const CODECS: readonly SegmentCodec[] = ['none', 'gzip', 'deflate-raw', 'brotli'];
/**
 * Brotli quality 5: on the ~1 KiB order corpus it stores 6 % fewer bytes than
 * raw deflate at any level, for about 20 µs more per event; qualities 7-9
 * save nothing more and 10-11 cost 30 times the CPU (bench/compression.ts).
 */
const BROTLI_QUALITY = 5;
const ATTR_JSON = 0x01;
/** attributes, offsetDelta, timestampDelta, keyLength, valueLength, headerCount: one byte each at least. */
const MIN_RECORD_SIZE = 6;
/**
 * Keeps every zigzag-encoded timestamp delta a safe integer, so varints need
 * no BigInt; 2^52 ms is the year 144,683.
 */
const TIMESTAMP_LIMIT = 2 ** 52;
const UINT32_LIMIT = 2 ** 32;
/** A compressed body that inflates past this is treated as corrupt rather than exhausting memory. */
const MAX_BODY_SIZE = 256 * 1024 * 1024;

/**
 * Encodes records as one segment whose offsets are relative: record `i` gets
 * offset `baseOffset + i` when decoded.
 *
 * @throws Error when `records` is empty or a timestamp is not an integer from 0 to 2^52 - 1.
 * @example
 * const segment = encodeSegment(
 *   [{ timestamp: Date.now(), key: Buffer.from('order-42'), value: Buffer.from('{"total":7}'), json: true, headers: {} }],
 *   { codec: 'gzip' },
 * );
 * segment.count; // 1: store it with segment.crc and segment.bytes in the log item
 */
export function encodeSegment(
  records: readonly SegmentRecord[],
  options: { codec?: SegmentCodec } = {},
): EncodedSegment {
  const codec = options.codec ?? 'none';
  if (!Object.hasOwn(CODEC_IDS, codec)) throw new Error(`Unknown segment codec "${codec}"`);
  if (records.length === 0) throw new Error('A segment holds at least one record');
  if (records.length >= UINT32_LIMIT) throw new Error(`A segment holds fewer than 2^32 records`);

  const firstTimestamp = records[0].timestamp;
  let maxTimestamp = firstTimestamp;
  // Header strings are measured once here and written from this list, so the
  // write pass does no second utf8 scan and cannot disagree with the sizes.
  const headerEntries: [string, number, string, number][][] = new Array(records.length);
  let bodySize = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const { timestamp } = record;
    if (!Number.isInteger(timestamp) || timestamp < 0 || timestamp >= TIMESTAMP_LIMIT) {
      throw new Error(`Record ${i} has timestamp ${timestamp}; expected an integer from 0 to 2^52 - 1`);
    }
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const entries: [string, number, string, number][] = [];
    let size =
      1 +
      uvarintSize(zigzag(i)) +
      uvarintSize(zigzag(timestamp - firstTimestamp)) +
      uvarintSize(record.value.length);
    size += record.value.length;
    size += record.key === null ? 1 : uvarintSize(zigzag(record.key.length)) + record.key.length;
    for (const name of Object.keys(record.headers)) {
      const value = record.headers[name];
      const nameBytes = Buffer.byteLength(name, 'utf8');
      const valueBytes = Buffer.byteLength(value, 'utf8');
      entries.push([name, nameBytes, value, valueBytes]);
      size += uvarintSize(nameBytes) + nameBytes + uvarintSize(valueBytes) + valueBytes;
    }
    size += uvarintSize(entries.length);
    headerEntries[i] = entries;
    bodySize += size;
  }

  // Uncompressed, the body is written in place after the header: one allocation, no copy.
  const raw = Buffer.allocUnsafe(codec === 'none' ? HEADER_SIZE + bodySize : bodySize);
  let pos = codec === 'none' ? HEADER_SIZE : 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    raw[pos++] = record.json ? ATTR_JSON : 0;
    pos = writeUvarint(raw, pos, zigzag(i));
    pos = writeUvarint(raw, pos, zigzag(record.timestamp - firstTimestamp));
    if (record.key === null) {
      pos = writeUvarint(raw, pos, zigzag(-1));
    } else {
      pos = writeUvarint(raw, pos, zigzag(record.key.length));
      pos += record.key.copy(raw, pos);
    }
    pos = writeUvarint(raw, pos, record.value.length);
    pos += record.value.copy(raw, pos);
    const entries = headerEntries[i];
    pos = writeUvarint(raw, pos, entries.length);
    for (const [name, nameBytes, value, valueBytes] of entries) {
      pos = writeUvarint(raw, pos, nameBytes);
      pos += raw.write(name, pos, nameBytes, 'utf8');
      pos = writeUvarint(raw, pos, valueBytes);
      pos += raw.write(value, pos, valueBytes, 'utf8');
    }
  }

  // allocUnsafe memory holds old data: a sizing bug must fail here, not leak it into a segment.
  if (pos !== raw.length) throw new Error(`Segment sizing bug: wrote ${pos} of ${raw.length} bytes`);

  let bytes: Buffer;
  if (codec === 'none') {
    bytes = raw;
  } else {
    const compressed = compress(codec, raw);
    bytes = Buffer.allocUnsafe(HEADER_SIZE + compressed.length);
    compressed.copy(bytes, HEADER_SIZE);
  }
  const bodyLength = bytes.length - HEADER_SIZE;
  if (bodyLength >= UINT32_LIMIT) throw new Error('A segment body must be smaller than 4 GiB');

  bytes.writeUInt32BE(MAGIC, 0);
  bytes[4] = VERSION;
  bytes[5] = CODEC_IDS[codec];
  bytes.writeUInt32BE(records.length, 6);
  writeTimestamp(bytes, 10, firstTimestamp);
  writeTimestamp(bytes, 18, maxTimestamp);
  bytes.writeUInt32BE(bodyLength, 26);
  const crc = segmentCrc(bytes);
  bytes.writeUInt32BE(crc, CRC_OFFSET);

  return { version: VERSION, codec, count: records.length, firstTimestamp, maxTimestamp, crc, bytes };
}

/**
 * Reads a segment's header without touching its body. It checks the magic,
 * version, codec, field ranges and that the buffer is exactly header plus
 * body, but not the CRC: {@link decodeSegment} checks that.
 *
 * @throws CorruptSegmentError when the bytes are not a whole segment of a known version.
 * @example
 * const { count, maxTimestamp } = readSegmentHeader(item.data);
 */
export function readSegmentHeader(bytes: Buffer): SegmentHeader {
  if (bytes.length < HEADER_SIZE) {
    throw new CorruptSegmentError(
      `Segment is ${bytes.length} bytes, shorter than its ${HEADER_SIZE}-byte header`,
    );
  }
  if (bytes.readUInt32BE(0) !== MAGIC)
    throw new CorruptSegmentError('Segment does not start with the magic "EBS1"');
  const version = bytes[4];
  if (version !== VERSION) throw new CorruptSegmentError(`Segment has unknown version ${version}`);
  const codec = CODECS[bytes[5]];
  if (codec === undefined) throw new CorruptSegmentError(`Segment has unknown codec id ${bytes[5]}`);
  const count = bytes.readUInt32BE(6);
  if (count === 0) throw new CorruptSegmentError('Segment claims to hold no records');
  const firstTimestamp = readTimestamp(bytes, 10);
  const maxTimestamp = readTimestamp(bytes, 18);
  if (maxTimestamp < firstTimestamp) {
    throw new CorruptSegmentError(
      `Segment's max timestamp ${maxTimestamp} precedes its first ${firstTimestamp}`,
    );
  }
  const bodyLength = bytes.readUInt32BE(26);
  if (bytes.length !== HEADER_SIZE + bodyLength) {
    throw new CorruptSegmentError(
      `Segment is ${bytes.length} bytes but its header says ${HEADER_SIZE + bodyLength} (truncated or padded)`,
    );
  }
  if (codec === 'none' && count * MIN_RECORD_SIZE > bodyLength) {
    throw new CorruptSegmentError(`Segment claims ${count} records in a body of ${bodyLength} bytes`);
  }
  return { version, codec, count, firstTimestamp, maxTimestamp, crc: bytes.readUInt32BE(CRC_OFFSET) };
}

/**
 * Decodes a segment committed at `baseOffset`: record `i` gets offset
 * `baseOffset + i`. The CRC is verified before anything is parsed, and the
 * parse cross-checks the header, so a damaged segment is an error, never
 * wrong records.
 *
 * @throws CorruptSegmentError when the bytes are damaged, truncated or not a segment.
 * @example
 * const records = decodeSegment(item.data, Number(item.sk));
 * records[0].offset; // Number(item.sk)
 */
export function decodeSegment(bytes: Buffer, baseOffset: number): LogRecord[] {
  const header = readSegmentHeader(bytes);
  if (
    !Number.isSafeInteger(baseOffset) ||
    baseOffset < 0 ||
    baseOffset + header.count > Number.MAX_SAFE_INTEGER
  ) {
    throw new RangeError(
      `Base offset ${baseOffset} is not a non-negative integer that fits the segment's offsets`,
    );
  }
  const actualCrc = segmentCrc(bytes);
  if (actualCrc !== header.crc) {
    throw new CorruptSegmentError(
      `Segment CRC32C mismatch: stored ${hex(header.crc)}, computed ${hex(actualCrc)}`,
    );
  }

  let body: Buffer;
  if (header.codec !== 'none') {
    try {
      body = decompress(header.codec, bytes.subarray(HEADER_SIZE));
    } catch (cause) {
      throw new CorruptSegmentError(`Segment body is not valid ${header.codec}`, { cause });
    }
    if (header.count * MIN_RECORD_SIZE > body.length) {
      throw new CorruptSegmentError(
        `Segment claims ${header.count} records in a body of ${body.length} bytes`,
      );
    }
  } else {
    body = bytes.subarray(HEADER_SIZE);
  }

  const reader = new BodyReader(body);
  const records: LogRecord[] = [];
  let maxTimestamp = header.firstTimestamp;
  for (let i = 0; i < header.count; i++) {
    const attributes = reader.byte();
    if ((attributes & ~ATTR_JSON) !== 0)
      throw reader.corrupt(`record ${i} has unknown attributes ${attributes}`);
    const offsetDelta = reader.zigzag();
    if (offsetDelta !== i) throw reader.corrupt(`record ${i} has offset delta ${offsetDelta}`);
    const timestamp = header.firstTimestamp + reader.zigzag();
    if (timestamp < 0 || timestamp >= TIMESTAMP_LIMIT || (i === 0 && timestamp !== header.firstTimestamp)) {
      throw reader.corrupt(`record ${i} has timestamp ${timestamp}`);
    }
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const keyLength = reader.zigzag();
    if (keyLength < -1) throw reader.corrupt(`record ${i} has key length ${keyLength}`);
    const key = keyLength === -1 ? null : reader.bytes(keyLength);
    const value = reader.bytes(reader.uvarint());
    const headerCount = reader.uvarint();
    const headers: Record<string, string> = {};
    for (let h = 0; h < headerCount; h++) {
      const name = reader.utf8(reader.uvarint());
      const headerValue = reader.utf8(reader.uvarint());
      if (Object.hasOwn(headers, name)) throw reader.corrupt(`record ${i} repeats header "${name}"`);
      // Plain assignment to "__proto__" would set the prototype and drop the header.
      Object.defineProperty(headers, name, {
        value: headerValue,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    records.push({ offset: baseOffset + i, timestamp, key, value, json: attributes === ATTR_JSON, headers });
  }
  if (!reader.atEnd()) throw reader.corrupt('bytes follow the last record');
  if (maxTimestamp !== header.maxTimestamp) {
    throw new CorruptSegmentError(
      `Segment header says max timestamp ${header.maxTimestamp}, records say ${maxTimestamp}`,
    );
  }
  return records;
}

function compress(codec: Exclude<SegmentCodec, 'none'>, raw: Buffer): Buffer {
  switch (codec) {
    case 'gzip':
      return gzipSync(raw);
    case 'deflate-raw':
      return deflateRawSync(raw);
    case 'brotli':
      return brotliCompressSync(raw, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
          [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
          [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
        },
      });
  }
}

/** Inflates a stored body; one that would inflate past MAX_BODY_SIZE throws rather than exhaust memory. */
function decompress(codec: Exclude<SegmentCodec, 'none'>, stored: Buffer): Buffer {
  const limit = { maxOutputLength: MAX_BODY_SIZE };
  switch (codec) {
    case 'gzip':
      return gunzipSync(stored, limit);
    case 'deflate-raw':
      return inflateRawSync(stored, limit);
    case 'brotli':
      return brotliDecompressSync(stored, limit);
  }
}

/** Reads a record body; every length is checked against the bytes left, so garbage cannot over-read or over-allocate. */
class BodyReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  atEnd(): boolean {
    return this.pos === this.buf.length;
  }

  corrupt(problem: string): CorruptSegmentError {
    return new CorruptSegmentError(`Segment body is malformed at byte ${this.pos}: ${problem}`);
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw this.corrupt('it ends inside a record');
    return this.buf[this.pos++];
  }

  /** At most 8 bytes (56 bits): enough for any safe integer, and a bound on runaway continuation bits. */
  uvarint(): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      result += (b & 0x7f) * multiplier;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw this.corrupt('a varint exceeds 2^53');
        return result;
      }
      multiplier *= 128;
    }
    throw this.corrupt('a varint is longer than 8 bytes');
  }

  zigzag(): number {
    const n = this.uvarint();
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  /** Copies, so a record never aliases the caller's segment buffer. */
  bytes(length: number): Buffer {
    const end = this.take(length);
    return Buffer.from(this.buf.subarray(end - length, end));
  }

  utf8(length: number): string {
    const end = this.take(length);
    return this.buf.toString('utf8', end - length, end);
  }

  private take(length: number): number {
    if (length > this.buf.length - this.pos) throw this.corrupt(`a length of ${length} overruns the body`);
    this.pos += length;
    return this.pos;
  }
}

/** Maps signed to unsigned so small negatives stay short; arithmetic, not bit ops, because values exceed 32 bits. */
function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function uvarintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeUvarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** Timestamps are below 2^52, so an i64 is written as two u32 halves without BigInt. */
function writeTimestamp(buf: Buffer, pos: number, timestamp: number): void {
  buf.writeUInt32BE(Math.floor(timestamp / UINT32_LIMIT), pos);
  buf.writeUInt32BE(timestamp % UINT32_LIMIT, pos + 4);
}

function readTimestamp(buf: Buffer, pos: number): number {
  const timestamp = buf.readUInt32BE(pos) * UINT32_LIMIT + buf.readUInt32BE(pos + 4);
  if (timestamp >= TIMESTAMP_LIMIT)
    throw new CorruptSegmentError(`Segment header has timestamp ${timestamp} out of range`);
  return timestamp;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** CRC32C over the header after the magic (up to the CRC field) and the body: a flipped bit anywhere but the magic changes it. */
function segmentCrc(bytes: Buffer): number {
  let crc = crc32cUpdate(0xffffffff, bytes, 4, CRC_OFFSET);
  crc = crc32cUpdate(crc, bytes, HEADER_SIZE, bytes.length);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * CRC32C (Castagnoli, the same function as `@aws-crypto/crc32c`), slicing-by-8.
 * The package walks bytes through an iterator, about 1 ms per 100 KiB, which
 * would be most of an append's CPU time; this is about 17 times faster, and
 * the tests check segment CRCs against the package.
 */
const CRC_TABLE = buildCrcTable();

function buildCrcTable(): Int32Array {
  const table = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = table[n];
    for (let slice = 1; slice < 8; slice++) {
      c = (c >>> 8) ^ table[c & 0xff];
      table[slice * 256 + n] = c;
    }
  }
  return table;
}

function crc32cUpdate(crc: number, buf: Uint8Array, start: number, end: number): number {
  const t = CRC_TABLE;
  let c = crc | 0;
  let i = start;
  for (const stop = end - ((end - start) & 7); i < stop; i += 8) {
    const a = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ c;
    c =
      t[1792 + (a & 0xff)] ^
      t[1536 + ((a >>> 8) & 0xff)] ^
      t[1280 + ((a >>> 16) & 0xff)] ^
      t[1024 + (a >>> 24)] ^
      t[768 + buf[i + 4]] ^
      t[512 + buf[i + 5]] ^
      t[256 + buf[i + 6]] ^
      t[buf[i + 7]];
  }
  for (; i < end; i++) c = (c >>> 8) ^ t[(c ^ buf[i]) & 0xff];
  return c;
}
