/**
 * `tsx bench/compression.ts`: which compression makes a realistic ~1 KiB
 * event fit one DynamoDB write unit, at what CPU. For each codec and level,
 * over the order corpus (bench/corpus.ts): the stored segment's bytes, the
 * log item's size by DynamoDB's rule (shared/log/item-size.ts, the item laid
 * out as the appender lays it out), write units, and encode/decode time —
 * for single-event segments and for segments of 7 events (about what fits
 * the 8 KiB inline threshold uncompressed). In process; prints JSON and
 * writes the "compression" section of docs/benchmarks.md.
 */
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateRawSync,
  inflateRawSync,
} from 'node:zlib';
import { itemSize, WRITE_UNIT_BYTES } from '../shared/log/item-size';
import { encodeSegment, type SegmentRecord } from '../shared/segment/codec';
import { corpusSizes, orderCorpus } from './corpus';
import { writeSection } from './doc-sections';

const HEADER = 34;
const CORPUS = orderCorpus(1_000, 42);

interface Variant {
  readonly name: string;
  readonly compress: (body: Buffer) => Buffer;
  readonly decompress: (stored: Buffer) => Buffer;
}

const brotli = (quality: number): Variant => ({
  name: `brotli q${quality}`,
  compress: (body) =>
    brotliCompressSync(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: quality,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    }),
  decompress: (stored) => brotliDecompressSync(stored),
});
const deflate = (level: number): Variant => ({
  name: `deflate-raw ${level}`,
  compress: (body) => deflateRawSync(body, { level }),
  decompress: (stored) => inflateRawSync(stored),
});
const VARIANTS: Variant[] = [
  { name: 'none', compress: (b) => b, decompress: (b) => b },
  deflate(1),
  deflate(6),
  deflate(9),
  brotli(1),
  brotli(4),
  brotli(5),
  brotli(6),
  brotli(9),
  brotli(11),
];

export interface CompressionRow {
  readonly variant: string;
  readonly eventsPerSegment: number;
  readonly meanStoredBytes: number;
  readonly meanItemBytes: number;
  readonly p99ItemBytes: number;
  readonly writeUnitsPerEvent: number;
  /** Share of segments whose item fits one write unit. */
  readonly oneUnitShare: number;
  readonly compressUsPerSegment: number;
  readonly decompressUsPerSegment: number;
}

/** The item as the appender writes it (shared/log/appender.ts): 13-digit offsets, a 16-character id. */
function itemOf(stored: number, count: number): number {
  return itemSize({
    pk: 'orders#3',
    sk: 1_234_567_890_123,
    last: 1_234_567_890_123 + count - 1,
    count,
    maxTs: Date.now(),
    expiresAt: Math.ceil(Date.now() / 1000) + 7 * 24 * 3600,
    id: 'AbCdEfGhIjKlMnOp',
    d: new Uint8Array(stored),
  });
}

function measure(variant: Variant, perSegment: number): CompressionRow {
  const bodies: Buffer[] = [];
  for (let i = 0; i + perSegment <= CORPUS.length; i += perSegment) {
    const records: SegmentRecord[] = CORPUS.slice(i, i + perSegment).map((e) => ({
      timestamp: Date.now(),
      key: Buffer.from(e.key),
      value: e.value,
      json: true,
      headers: {},
    }));
    bodies.push(encodeSegment(records).bytes.subarray(HEADER));
  }
  for (const body of bodies.slice(0, 50)) variant.decompress(variant.compress(body)); // warm-up
  let started = performance.now();
  const stored = bodies.map((b) => variant.compress(b));
  const compressUs = ((performance.now() - started) * 1000) / bodies.length;
  started = performance.now();
  for (const s of stored) variant.decompress(s);
  const decompressUs = ((performance.now() - started) * 1000) / bodies.length;
  const items = stored.map((s) => itemOf(HEADER + s.length, perSegment)).sort((a, b) => a - b);
  const units = items.map((bytes) => Math.ceil(bytes / WRITE_UNIT_BYTES));
  return {
    variant: variant.name,
    eventsPerSegment: perSegment,
    meanStoredBytes: Math.round(stored.reduce((s, b) => s + b.length + HEADER, 0) / stored.length),
    meanItemBytes: Math.round(items.reduce((s, b) => s + b, 0) / items.length),
    p99ItemBytes: items[Math.floor(items.length * 0.99)],
    writeUnitsPerEvent: Number((units.reduce((s, u) => s + u, 0) / units.length / perSegment).toFixed(3)),
    oneUnitShare: Number((units.filter((u) => u === 1).length / units.length).toFixed(3)),
    compressUsPerSegment: Number(compressUs.toFixed(1)),
    decompressUsPerSegment: Number(decompressUs.toFixed(1)),
  };
}

function render(sizes: ReturnType<typeof corpusSizes>, rows: CompressionRow[]): string {
  return [
    '## Compression of inline segments (in process)',
    '',
    '`tsx bench/compression.ts`: the order corpus (`bench/corpus.ts`, seed 42, 1,000 events; JSON values of',
    `${sizes.min}-${sizes.max} bytes, mean ${sizes.mean}, p99 ${sizes.p99}), each event with its order id as key, encoded`,
    "as segments of 1 and of 7 events; the item sized by DynamoDB's rule as the appender lays it out",
    '(13-digit offsets, so a conservative size). Times are per segment on this machine, CPU shared with others.',
    '',
    '| compression | events/segment | stored bytes | item bytes (mean) | item bytes (p99) | write units/event | items in 1 unit | compress µs | decompress µs |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.variant} | ${r.eventsPerSegment} | ${r.meanStoredBytes} | ${r.meanItemBytes} | ${r.p99ItemBytes} | ${r.writeUnitsPerEvent} | ${(r.oneUnitShare * 100).toFixed(1)} % | ${r.compressUsPerSegment} | ${r.decompressUsPerSegment} |`,
    ),
  ].join('\n');
}

function main(): void {
  const rows: CompressionRow[] = [];
  for (const perSegment of [1, 7]) for (const v of VARIANTS) rows.push(measure(v, perSegment));
  const sizes = corpusSizes(CORPUS);
  writeSection('compression', render(sizes, rows));
  process.stdout.write(`${JSON.stringify({ corpus: sizes, rows }, null, 2)}\n`);
}

if (require.main === module) main();
