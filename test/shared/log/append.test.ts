import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { orderCorpus } from '../../../bench/corpus';
import { UnavailableError } from '../../../shared/errors';
import { itemSize, WRITE_UNIT_BYTES } from '../../../shared/log/item-size';
import type { Log } from '../../../shared/log/log';
import { partitionKey } from '../../../shared/log/partition-key';
import { inlineBytesOf } from '../../../shared/log/segment-item';
import { encodeSegment, readSegmentHeader, type SegmentRecord } from '../../../shared/segment/codec';
import {
  documentClient,
  newLog,
  partitionItems,
  record,
  s3Client,
  segmentObjects,
  uniqueTopic,
} from '../../support/aws';

const RETENTION = 24;

async function readAll(log: Log, topic: string, partition: number, from = 0) {
  const events = [];
  let offset = from;
  for (;;) {
    const page = await log.read(topic, partition, offset, 1000);
    if (page.records.length === 0) return events;
    events.push(...page.records);
    offset = page.nextOffset;
  }
}

/** Offsets `from` .. `to`. */
const range = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** Appends like a client that retries what the bus says is retryable. */
async function appendWithRetry(log: Log, topic: string, value: unknown): Promise<number> {
  for (;;) {
    try {
      return (await log.append(topic, 0, RETENTION, [record(value)])).baseOffset;
    } catch (error) {
      if (!(error instanceof UnavailableError)) throw error;
    }
  }
}

describe('append', () => {
  test('16 concurrent appenders x 200 appends on one partition get increasing offsets, dense but for gaps, each event once, each in its own order', async () => {
    // GIVEN 16 independent appenders, as 16 Lambda instances would be, with their own head caches
    const topic = uniqueTopic('race');
    const writers = Array.from({ length: 16 }, () => newLog());

    // WHEN each appends 200 events, one at a time, all at once
    const acked = await Promise.all(
      writers.map(async (log, writer) => {
        const offsets: number[] = [];
        for (let seq = 0; seq < 200; seq++) offsets.push(await appendWithRetry(log, topic, { writer, seq }));
        return offsets;
      }),
    );

    // THEN every offset up to the end holds one event or lies in a gap (docs/adr/0011), never both
    const items = (await partitionItems(topic, 0)).filter((i) => (i.sk as number) >= 0);
    const gaps = new Set(items.filter((i) => i.gap).flatMap((i) => range(i.sk as number, i.last as number)));
    const events = await readAll(newLog(), topic, 0);
    const end = Math.max(...items.map((i) => (i.last as number) + 1));
    expect(events).toHaveLength(3200);
    expect(range(0, end - 1).filter((o) => !gaps.has(o))).toEqual(events.map((e) => e.offset));
    // AND each event is there exactly once, where it was acknowledged, each writer's in its own order
    const seen = new Map(events.map((e) => [e.offset, JSON.parse(e.value.toString())]));
    expect(new Set([...seen.values()].map((v) => `${v.writer}/${v.seq}`)).size).toBe(3200);
    for (let writer = 0; writer < 16; writer++) {
      expect(acked[writer]).toEqual([...acked[writer]].sort((a, b) => a - b));
      for (const [seq, offset] of acked[writer].entries()) expect(seen.get(offset)).toEqual({ writer, seq });
    }
  }, 300_000);

  test('concurrent appends in one process are coalesced into fewer segments, with offsets in arrival order', async () => {
    const topic = uniqueTopic('group');
    const log = newLog();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => log.append(topic, 0, RETENTION, [record(i)])),
    );
    expect(results.map((r) => r.baseOffset)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const segments = (await partitionItems(topic, 0)).filter((item) => item.sk >= 0);
    expect(segments.length).toBeLessThan(50);
    const values = (await readAll(log, topic, 0)).map((e) => JSON.parse(e.value.toString()));
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  test('a segment at or under 8 KiB is stored inline, a larger one in S3, and both read back the same', async () => {
    const topic = uniqueTopic('size');
    const log = newLog();
    // Random text, so compression cannot bring the large one under the threshold.
    const smallValue = randomBytes(5_000).toString('base64');
    const largeValue = randomBytes(9_000).toString('base64');

    await log.append(topic, 0, RETENTION, [record(smallValue, 'k')]);
    await log.append(topic, 0, RETENTION, [record(largeValue, 'k')]);

    const [first, second] = (await partitionItems(topic, 0)).filter((item) => item.sk >= 0);
    expect(inlineBytesOf(first)?.length).toBeLessThanOrEqual(8 * 1024);
    expect(first.s3Key).toBeUndefined();
    expect(inlineBytesOf(second)).toBeUndefined();
    expect(await segmentObjects(topic)).toEqual([second.s3Key]);
    const events = await readAll(newLog(), topic, 0);
    expect(events.map((e) => [e.offset, e.key?.toString(), JSON.parse(e.value.toString())])).toEqual([
      [0, 'k', smallValue],
      [1, 'k', largeValue],
    ]);
  });

  test('a realistic ~1 KiB order event is committed as an item of at most 1,024 bytes: one write unit', async () => {
    // GIVEN 40 order events of 880-1,250 bytes of JSON (bench/corpus.ts), each appended on its own
    const topic = uniqueTopic('orders');
    const log = newLog();
    const corpus = orderCorpus(40, 11);
    for (const event of corpus) {
      await log.append(topic, 0, RETENTION, [
        { timestamp: Date.now(), key: Buffer.from(event.key), value: event.value, json: true, headers: {} },
      ]);
    }
    // THEN every item, as DynamoDB sizes it, fits one write unit, and the events read back unchanged
    const items = (await partitionItems(topic, 0)).filter((item) => item.sk >= 0);
    expect(items).toHaveLength(40);
    const sizes = items.map((item) => itemSize(item));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(WRITE_UNIT_BYTES);
    expect(Math.min(...corpus.map((e) => e.value.length))).toBeGreaterThan(850);
    const events = await readAll(newLog(), topic, 0);
    expect(events.map((e) => [e.key?.toString(), e.value.toString()])).toEqual(
      corpus.map((e) => [e.key, e.value.toString()]),
    );
  });

  test('an inline segment is compressed only when that saves write units', async () => {
    const topic = uniqueTopic('small');
    const log = newLog();
    // GIVEN a small event, which fits one write unit anyway, and an order event, which needs compression to
    await log.append(topic, 0, RETENTION, [record({ orderId: 'o-1', total: 42 })]);
    const [order] = orderCorpus(1, 3);
    await log.append(topic, 0, RETENTION, [
      { timestamp: Date.now(), key: null, value: order.value, json: true, headers: {} },
    ]);
    const [small, large] = (await partitionItems(topic, 0)).filter((item) => item.sk >= 0);
    expect(readSegmentHeader(Buffer.from(inlineBytesOf(small) as Uint8Array)).codec).toBe('none');
    expect(readSegmentHeader(Buffer.from(inlineBytesOf(large) as Uint8Array)).codec).toBe('brotli');
  });

  test('a batch of 10 order events, over the threshold uncompressed, is stored inline compressed: no S3 PUT', async () => {
    const topic = uniqueTopic('batch10');
    const log = newLog();
    const corpus = orderCorpus(10, 5);
    const records = corpus.map((e) => ({
      timestamp: Date.now(),
      key: Buffer.from(e.key),
      value: e.value,
      json: true,
      headers: {},
    }));
    expect(encodeSegment(records).bytes.length).toBeGreaterThan(8 * 1024);
    await log.append(topic, 0, RETENTION, records);
    const [item] = (await partitionItems(topic, 0)).filter((i) => i.sk >= 0);
    expect(item.s3Key).toBeUndefined();
    expect(await segmentObjects(topic)).toEqual([]);
    expect(itemSize(item)).toBeLessThanOrEqual(4 * WRITE_UNIT_BYTES);
    const events = await readAll(newLog(), topic, 0);
    expect(events.map((e) => e.value.toString())).toEqual(corpus.map((e) => e.value.toString()));
  });

  test('items written in the first layout (before ADR 0008) still read, seek, and are found by their segment id', async () => {
    // GIVEN a partition whose first segment was committed by an earlier version, with its attribute names
    const topic = uniqueTopic('layout1');
    const t0 = Date.now() - 60_000;
    const old: SegmentRecord[] = [record('old-a', 'k', t0), record('old-b', 'k', t0 + 10)];
    const segment = encodeSegment(old, { codec: 'gzip' });
    await documentClient().send(
      new PutCommand({
        TableName: process.env.EVENTBUS_LOG_TABLE,
        Item: {
          pk: partitionKey(topic, 0),
          sk: 0,
          last: 1,
          count: 2,
          firstTs: segment.firstTimestamp,
          maxTs: segment.maxTimestamp,
          bytes: segment.bytes.length,
          codec: segment.codec,
          crc: segment.crc,
          data: segment.bytes,
          expiresAt: Math.ceil(Date.now() / 1000) + RETENTION * 3600,
          segmentId: 'a6f1c0de-0000-4000-8000-000000000001',
        },
      }),
    );
    // WHEN this version appends after it
    const log = newLog();
    expect((await log.append(topic, 0, RETENTION, [record('new-c')])).baseOffset).toBe(2);
    // THEN both layouts read back in order, by offset and by time, and the old segment is found by its id
    const events = await readAll(newLog(), topic, 0);
    expect(events.map((e) => [e.offset, JSON.parse(e.value.toString())])).toEqual([
      [0, 'old-a'],
      [1, 'old-b'],
      [2, 'new-c'],
    ]);
    expect(await log.offsetForTimestamp(topic, 0, t0 + 5)).toBe(1);
    expect(await log.findSegment(topic, 0, 'a6f1c0de-0000-4000-8000-000000000001', 0, 10)).toEqual({
      baseOffset: 0,
      count: 2,
    });
  });

  test('reads honour offset and limit and say where to go on', async () => {
    const topic = uniqueTopic('read');
    const log = newLog();
    for (let i = 0; i < 5; i++) await log.append(topic, 0, RETENTION, [record(i * 2), record(i * 2 + 1)]);

    const page = await log.read(topic, 0, 3, 4);
    expect(page.records.map((r) => r.offset)).toEqual([3, 4, 5, 6]);
    expect(page.nextOffset).toBe(7);
    const end = await log.read(topic, 0, 10, 100);
    expect(end).toEqual({ records: [], nextOffset: 10 });
    expect(await log.offsets(topic, 0)).toEqual({ startOffset: 0, endOffset: 10 });
  });

  test('a read stops short of the limit rather than return more bytes than a response can carry', async () => {
    const topic = uniqueTopic('bytes');
    const log = newLog();
    await log.append(
      topic,
      0,
      RETENTION,
      Array.from({ length: 6 }, (_, i) => record(String(i).repeat(1024 * 1024))),
    );
    const first = await log.read(topic, 0, 0, 100);
    expect(first.records.map((r) => r.offset)).toEqual([0, 1]);
    expect(first.nextOffset).toBe(2);
    const tiny = await log.read(topic, 0, 0, 100, 10);
    expect(tiny.records.map((r) => r.offset)).toEqual([0]);
    const rest = (await readAll(log, topic, 0, first.nextOffset)).map((r) => r.offset);
    expect(rest).toEqual([2, 3, 4, 5]);
  });

  test('read by timestamp finds the first event appended at or after it', async () => {
    const topic = uniqueTopic('time');
    const log = newLog();
    const t0 = Date.UTC(2026, 0, 1);
    await log.append(topic, 0, RETENTION, [record('a', null, t0), record('b', null, t0 + 1_000)]);
    await log.append(topic, 0, RETENTION, [record('c', null, t0 + 2_000), record('d', null, t0 + 3_000)]);

    expect(await log.offsetForTimestamp(topic, 0, t0 - 1)).toBe(0);
    expect(await log.offsetForTimestamp(topic, 0, t0 + 500)).toBe(1);
    expect(await log.offsetForTimestamp(topic, 0, t0 + 2_000)).toBe(2);
    expect(await log.offsetForTimestamp(topic, 0, t0 + 2_500)).toBe(3);
    expect(await log.offsetForTimestamp(topic, 0, t0 + 60_000)).toBe(4);
  });
});

test('gzip segments (EVENTBUS_SEGMENT_CODEC=gzip) are smaller and read back the same, also by a reader set to none', async () => {
  const topic = uniqueTopic('gzip');
  const values = Array.from({ length: 20 }, (_, i) => ({
    id: i,
    text: 'the same words again and again '.repeat(10),
  }));
  await newLog({ config: { segmentCodec: 'gzip' } }).append(
    topic,
    0,
    24,
    values.map((v) => record(v)),
  );
  const [segment] = (await partitionItems(topic, 0)).filter((item) => item.sk >= 0);
  const stored = Buffer.from(inlineBytesOf(segment) as Uint8Array);
  expect(readSegmentHeader(stored).codec).toBe('gzip');
  expect(stored.length).toBeLessThan(JSON.stringify(values).length / 4);
  const { records } = await newLog({ config: { segmentCodec: 'none' } }).read(topic, 0, 0, 100);
  expect(records.map((r) => JSON.parse(r.value.toString()))).toEqual(values);
});

test('a write DynamoDB refuses as invalid fails at once, is not retried, and commits nothing', async () => {
  // GIVEN a threshold above DynamoDB's 400 KB item limit, so a 600 KB segment (random text, which
  // compression cannot bring under 400 KB) is sent inline
  const topic = uniqueTopic('toolarge');
  const client = new DynamoDBClient({});
  let puts = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (/^Put/.test(context.commandName ?? '')) puts++;
      return next(args);
    },
    { step: 'initialize', name: 'countPuts' },
  );
  const log = newLog({ dynamo: documentClient(client), config: { inlineThresholdBytes: 1_000_000 } });

  // WHEN it is appended THEN DynamoDB Local's validation error comes back after one attempt
  const value = randomBytes(450_000).toString('base64');
  await expect(log.append(topic, 0, 24, [record(value)])).rejects.toMatchObject({
    name: 'ValidationException',
  });
  expect(puts).toBe(1);
  expect(await newLog().offsets(topic, 0)).toEqual({ startOffset: 0, endOffset: 0 });
});

test('a reader paging through a segment stored in S3 downloads it once', async () => {
  const topic = uniqueTopic('paging');
  await newLog().append(
    topic,
    0,
    24,
    Array.from({ length: 30 }, (_, i) => record(`${i}`.repeat(1_000))),
  );
  const s3 = s3Client();
  let gets = 0;
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetObjectCommand') gets++;
      return next(args);
    },
    { step: 'initialize', name: 'countGets' },
  );
  const reader = newLog({ s3 });
  const offsets: number[] = [];
  for (let offset = 0; offset < 30; ) {
    const page = await reader.read(topic, 0, offset, 7);
    offsets.push(...page.records.map((r) => r.offset));
    offset = page.nextOffset;
  }
  expect(offsets).toEqual(Array.from({ length: 30 }, (_, i) => i));
  expect(gets).toBe(1);
});

test('a time seek finds events the eventually consistent time index does not list yet', async () => {
  // GIVEN a partition whose time index (a GSI, eventually consistent on AWS) has not caught up:
  // every index query answers nothing, as one issued right after the commits can
  const topic = uniqueTopic('lag');
  const t0 = Date.UTC(2026, 0, 2);
  await newLog().append(topic, 0, RETENTION, [record('a', null, t0), record('b', null, t0 + 1_000)]);
  await newLog().append(topic, 0, RETENTION, [record('c', null, t0 + 2_000)]);
  const lagging = new DynamoDBClient({});
  lagging.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      if ((args.input as { IndexName?: string }).IndexName)
        (result.output as { Items?: unknown[] }).Items = [];
      return result;
    },
    { step: 'initialize', name: 'indexNotCaughtUp' },
  );
  const log = newLog({ dynamo: documentClient(lagging) });

  // THEN seeks still land on the first event at or after the time
  expect(await log.offsetForTimestamp(topic, 0, t0 + 500)).toBe(1);
  expect(await log.offsetForTimestamp(topic, 0, t0 + 2_000)).toBe(2);
  expect(await log.offsetForTimestamp(topic, 0, t0 + 60_000)).toBe(3);
});
