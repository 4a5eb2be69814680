import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { UnavailableError } from '../../../shared/errors';
import { readTop } from '../../../shared/log/head';
import type { Log } from '../../../shared/log/log';
import { META_SK, partitionKey } from '../../../shared/log/partition-key';
import { EPOCH_MIN_MS, RESERVATION_COMMIT_MS, SETTLE_AFTER_MS } from '../../../shared/log/reservations';
import { busMetrics } from '../../../shared/observability/metrics';
import {
  documentClient,
  expireAllSegments,
  newLog,
  partitionItems,
  record,
  testConfig,
  uniqueTopic,
} from '../../support/aws';
import { subscribedTopic } from '../../support/delivery';
import { faultyDynamo } from '../../support/faults';

/**
 * The windows a reserved epoch (docs/adr/0011-reserved-epochs.md) opens,
 * against DynamoDB Local: a writer that dies or stalls between reserving
 * and committing, an opener or closer that stops half way, a writer whose
 * cached head predates the epoch. Only failures are injected; the
 * conditions and the counter run in the emulator.
 */

const RETENTION = 24;

/** A writer that opens an epoch at its first commit (no lost races needed), as a crowd would make it. */
const opener = (options: Parameters<typeof newLog>[0] = {}) =>
  newLog({ ...options, openEpochAfterConflicts: 0 });

/** A writer whose clock is past the epoch's minimum age: alone, it closes the epoch. */
const lateComer = (options: Parameters<typeof newLog>[0] = {}) =>
  newLog({ ...options, now: () => Date.now() + EPOCH_MIN_MS + 1_000 });

async function append(log: Log, topic: string, value: unknown): Promise<number> {
  return (await log.append(topic, 0, RETENTION, [record(value)])).baseOffset;
}

/** The partition's items: base offset, last offset, and what kind of item each is. */
async function layout(topic: string) {
  const items = (await partitionItems(topic, 0)).filter((item) => item.sk !== META_SK);
  return items.map((item) => ({
    sk: item.sk,
    last: item.last,
    kind: item.closes ? 'closing gap' : item.gap ? 'gap' : item.rt === undefined ? 'segment' : 'reserved',
  }));
}

async function counter(topic: string) {
  const meta = (await partitionItems(topic, 0)).find((item) => item.sk === META_SK) as
    | { next?: number; end?: number }
    | undefined;
  return { next: meta?.next, end: meta?.end };
}

/** A DynamoDB client whose segment PutItems (not gaps) wait until `release()`. */
function stalledWriter() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const client = new DynamoDBClient({});
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = (args as { input: { Item?: { gap?: unknown } } }).input;
      if (/^Put/.test(context.commandName ?? '') && !input.Item?.gap) await gate;
      return next(args);
    },
    { step: 'initialize', name: 'stall' },
  );
  return { dynamo: documentClient(client), release };
}

describe('reserved epochs', () => {
  test('an opened epoch hands each writer its own offsets; a writer left alone closes it and commits go back to one write each', async () => {
    // GIVEN an epoch opened by a crowded writer
    const topic = uniqueTopic('epoch');
    expect(await append(opener(), topic, 'a')).toBe(0);
    expect((await readTop(documentClient(), testConfig().logTable, partitionKey(topic, 0))).reserved).toBe(
      true,
    );

    // WHEN another writer appends four times with no one else reserving in between, the epoch a second old
    const writer = lateComer();
    const reserved = jest.spyOn(busMetrics, 'reservedAppend');
    const offsets: number[] = [];
    for (const value of ['b1', 'b2', 'b3', 'b4']) offsets.push(await append(writer, topic, value));
    expect(reserved).toHaveBeenCalledTimes(3);
    reserved.mockRestore();

    // THEN its first three appends took reserved offsets; the second and third followed its own with no
    // one else's in between, so after the third it closed the epoch with a one-offset gap; its fourth is
    // an ordinary commit after the gap
    expect(offsets).toEqual([1, 2, 3, 5]);
    expect(await layout(topic)).toEqual([
      { sk: 0, last: 0, kind: 'reserved' },
      { sk: 1, last: 1, kind: 'reserved' },
      { sk: 2, last: 2, kind: 'reserved' },
      { sk: 3, last: 3, kind: 'reserved' },
      { sk: 4, last: 4, kind: 'closing gap' },
      { sk: 5, last: 5, kind: 'segment' },
    ]);
    expect(await counter(topic)).toEqual({ next: undefined, end: 4 });
    // AND readers step over the gap
    const { records, nextOffset } = await newLog().read(topic, 0, 0, 10);
    expect(records.map((r) => [r.offset, JSON.parse(r.value.toString())])).toEqual([
      [0, 'a'],
      [1, 'b1'],
      [2, 'b2'],
      [3, 'b3'],
      [5, 'b4'],
    ]);
    expect(nextOffset).toBe(6);
  });

  test('an epoch younger than a second stays open for a writer alone: the rest of the crowd has not met it yet', async () => {
    const topic = uniqueTopic('young');
    // Both clocks stopped at the epoch's opening: the epoch stays young however slow the machine is.
    const opened = Date.now();
    await append(opener({ now: () => opened }), topic, 'a');
    const writer = newLog({ now: () => opened });
    const offsets: number[] = [];
    for (const value of ['b1', 'b2', 'b3']) offsets.push(await append(writer, topic, value));
    expect(offsets).toEqual([1, 2, 3]);
    expect((await layout(topic)).map((i) => i.kind)).toEqual([
      'reserved',
      'reserved',
      'reserved',
      'reserved',
    ]);
    expect(await counter(topic)).toEqual({ next: 4, end: undefined });
  });

  test('a partition idle past its retention in the middle of an epoch, or after one, reuses no offset', async () => {
    // GIVEN one partition left with its epoch open, another with its epoch closed, and every item expired
    const open = uniqueTopic('idle-open');
    await append(opener(), open, 'a');
    await append(newLog(), open, 'b');
    const closed = uniqueTopic('idle-closed');
    await append(opener(), closed, 'a');
    const writer = lateComer();
    for (const value of ['b1', 'b2', 'b3']) await append(writer, closed, value);
    expect(await counter(closed)).toEqual({ next: undefined, end: 4 });
    await expireAllSegments(open, 0);
    await expireAllSegments(closed, 0);

    // WHEN a new writer appends to each (the floor, raised from the stream, may lag: it is not set here)
    // THEN it goes on after the last offset handed out: from the counter, or after the closing gap
    expect(await append(newLog(), open, 'c')).toBe(2);
    expect(await append(newLog(), closed, 'c')).toBe(5);
  });

  test('a writer killed between reserving and committing: readers wait at its hole, never skip it, and settle it once no commit can land', async () => {
    // GIVEN an epoch, and a writer that reserves an offset and dies before any put leaves
    const topic = uniqueTopic('killed');
    await append(opener(), topic, 'a');
    const dying = newLog({
      dynamo: faultyDynamo([
        { when: (command) => /^Put/.test(command), faults: ['crash-before-send', 'crash-before-send'] },
      ]),
      config: { appendAttempts: 1 },
    });
    await expect(append(dying, topic, 'lost')).rejects.toThrow();
    // AND a healthy writer commits after the hole, and is acknowledged
    expect(await append(newLog(), topic, 'b')).toBe(2);

    // WHEN a reader reads while the dead writer could still be alive
    const early = await newLog().read(topic, 0, 0, 10);
    const atHole = await newLog().read(topic, 0, 1, 10);

    // THEN it stops at the hole: it neither skips offset 1 nor hands out offset 2 before it
    expect(early.records.map((r) => r.offset)).toEqual([0]);
    expect(early.nextOffset).toBe(1);
    expect(atHole).toEqual({ records: [], nextOffset: 1 });
    expect((await layout(topic)).map((i) => i.kind)).toEqual(['reserved', 'reserved']);

    // WHEN a reader comes after the settling time
    const counted = jest.spyOn(busMetrics, 'settledOffsets');
    const later = newLog({ now: () => Date.now() + SETTLE_AFTER_MS + 1_000 });
    const settled = await later.read(topic, 0, 1, 10);
    // (and the dead writer's offset is counted, for the dashboard)
    expect(counted).toHaveBeenCalledWith(1);
    counted.mockRestore();

    // THEN it has filled the hole with a gap and goes on: every acknowledged event is read once, in order
    expect(settled.records.map((r) => [r.offset, JSON.parse(r.value.toString())])).toEqual([[2, 'b']]);
    expect(settled.nextOffset).toBe(3);
    expect(await layout(topic)).toEqual([
      { sk: 0, last: 0, kind: 'reserved' },
      { sk: 1, last: 1, kind: 'gap' },
      { sk: 2, last: 2, kind: 'reserved' },
    ]);
    const all = await newLog().read(topic, 0, 0, 10);
    expect(all.records.map((r) => r.offset)).toEqual([0, 2]);
  });

  test('a writer that cannot commit before its deadline gives its offsets up with a gap at once, and says so', async () => {
    // GIVEN an epoch, and a writer whose clock passes the commit deadline between reserving and committing
    const topic = uniqueTopic('late');
    await append(opener(), topic, 'a');
    let skew = 0;
    const client = new DynamoDBClient({});
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (/^Update/.test(context.commandName ?? '')) skew += RESERVATION_COMMIT_MS + 1;
        return result;
      },
      { step: 'initialize', name: 'slowClock' },
    );
    const late = newLog({ dynamo: documentClient(client), now: () => Date.now() + skew });

    // WHEN it appends
    // THEN the append fails as retryable, nothing of it is in the log, and its offset is a gap readers step over
    await expect(append(late, topic, 'late')).rejects.toBeInstanceOf(UnavailableError);
    expect(await append(newLog(), topic, 'b')).toBe(2);
    const { records } = await newLog().read(topic, 0, 0, 10);
    expect(records.map((r) => [r.offset, JSON.parse(r.value.toString())])).toEqual([
      [0, 'a'],
      [2, 'b'],
    ]);
    expect((await layout(topic))[1]).toEqual({ sk: 1, last: 1, kind: 'gap' });
  });

  test('a reader and the deliverer that meet an unfinished reservation wait at it, and deliver in offset order once the slow writer commits', async () => {
    // GIVEN a group on a topic in an epoch, a slow writer holding offset 1, and offset 2 committed after it
    const { topic, deliver, delivered, received } = await subscribedTopic();
    await append(opener(), topic, 'a');
    const slow = stalledWriter();
    const slowAppend = append(newLog({ dynamo: slow.dynamo }), topic, 'slow');
    for (let i = 0; i < 100 && (await counter(topic)).next !== 2; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await append(newLog(), topic, 'c')).toBe(2);

    // WHEN the deliverer runs while offset 1 is reserved and not committed
    await deliver();
    // THEN it delivered what precedes the hole only
    expect(delivered()).toEqual([0]);

    // WHEN the slow writer commits, and the deliverer runs again (the commit's stream record wakes it on AWS)
    slow.release();
    expect(await slowAppend).toBe(1);
    await deliver();

    // THEN the group got every event once, in offset order
    expect(delivered()).toEqual([0, 1, 2]);
    expect(received.flatMap((b) => b.events.map((e) => e.value))).toEqual(['a', 'slow', 'c']);
  });

  test('a group whose partition ends in a closing gap steps over it: its lag goes to zero', async () => {
    // GIVEN a group, and a partition whose epoch a lone writer closed after its last event
    const { topic, deliver, delivered, committed } = await subscribedTopic();
    await append(opener(), topic, 'a');
    const writer = lateComer();
    for (const value of ['b1', 'b2', 'b3']) await append(writer, topic, value);
    expect((await layout(topic)).at(-1)).toEqual({ sk: 4, last: 4, kind: 'closing gap' });

    // WHEN the deliverer runs
    await deliver();

    // THEN it delivered the four events and committed past the gap
    expect(delivered()).toEqual([0, 1, 2, 3]);
    expect(await committed()).toBe(5);
  });

  test('an opener that stops after its commit, before the counter starts: the next writer starts it, retrying a refused request', async () => {
    // GIVEN an opener whose commit lands and whose counter start never leaves
    const topic = uniqueTopic('opener');
    const stopping = newLog({
      dynamo: faultyDynamo([{ when: (command) => /^Update/.test(command), faults: ['crash-before-send'] }]),
      openEpochAfterConflicts: 0,
    });
    // THEN its append is acknowledged all the same: it is committed
    expect(await append(stopping, topic, 'a')).toBe(0);
    expect(await counter(topic)).toEqual({ next: undefined, end: undefined });

    // WHEN other writers append, the first of whom meets a refused request when it starts the counter
    const starting = newLog({
      dynamo: faultyDynamo([
        {
          when: (command, input) => /^Update/.test(command) && /since/.test(input.UpdateExpression ?? ''),
          faults: ['crash-before-send'],
        },
      ]),
    });
    const offsets = [await append(starting, topic, 'b'), await append(newLog(), topic, 'c')];

    // THEN the first of them started the counter after the opener's segment (retrying what was
    // refused within its append), and offsets go on densely
    expect(offsets).toEqual([1, 2]);
    expect((await newLog().read(topic, 0, 0, 10)).records.map((r) => r.offset)).toEqual([0, 1, 2]);
  });

  test('a closer that stops between closing the counter and putting its closing gap: the next writer puts the gap and goes on', async () => {
    // GIVEN an epoch whose closer's closing gap never leaves
    const topic = uniqueTopic('closer');
    await append(opener(), topic, 'a');
    const closer = lateComer({
      dynamo: faultyDynamo([
        {
          when: (command, input) => /^Put/.test(command) && input.Item?.closes !== undefined,
          faults: ['crash-before-send'],
        },
      ]),
    });
    await append(closer, topic, 'b1');
    await append(closer, topic, 'b2');
    // Its third append finds it alone a second time in a row and closes the epoch.
    expect(await append(closer, topic, 'b3')).toBe(3);
    expect(await counter(topic)).toEqual({ next: undefined, end: 4 });
    expect((await layout(topic)).map((i) => i.kind)).toEqual([
      'reserved',
      'reserved',
      'reserved',
      'reserved',
    ]);

    // WHEN another writer appends
    const offset = await append(newLog(), topic, 'c');

    // THEN it put the closing gap where the counter stopped, and committed after it
    expect(offset).toBe(5);
    expect((await layout(topic)).map((i) => i.kind)).toEqual([
      'reserved',
      'reserved',
      'reserved',
      'reserved',
      'closing gap',
      'segment',
    ]);
    expect((await newLog().read(topic, 0, 0, 10)).records.map((r) => r.offset)).toEqual([0, 1, 2, 3, 5]);
  });

  test('a writer whose cached head predates the epoch never commits inside it: its stale commit conflicts and it takes a reservation', async () => {
    // GIVEN a writer that committed and cached the head, then an epoch opened at that head
    const topic = uniqueTopic('stale');
    const stale = newLog({ config: { headCacheMs: 60_000 } });
    expect(await append(stale, topic, 'a')).toBe(0);
    expect(await append(opener(), topic, 'opens')).toBe(1);
    // AND reserved commits above it from other writers
    for (const value of ['r1', 'r2']) await append(newLog(), topic, value);

    // WHEN the stale writer appends a batch of three, still believing the head is 1
    const { baseOffset } = await stale.append(topic, 0, RETENTION, [
      record('s1'),
      record('s2'),
      record('s3'),
    ]);

    // THEN it landed at reserved offsets above everything, and no offset holds two events
    expect(baseOffset).toBe(4);
    const items = await layout(topic);
    for (let i = 1; i < items.length; i++) expect(items[i].sk).toBeGreaterThan(items[i - 1].last);
    const { records } = await newLog().read(topic, 0, 0, 10);
    expect(records.map((r) => JSON.parse(r.value.toString()))).toEqual([
      'a',
      'opens',
      'r1',
      'r2',
      's1',
      's2',
      's3',
    ]);
  });
});
