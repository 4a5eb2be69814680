import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { createDispatcherHandler } from '../../../functions/dispatcher/handler';
import { createSweeperHandler } from '../../../functions/sweeper/handler';
import { StreamPoller } from '../../../local/stream-poller';
import { createBusCore, createDispatcherRole } from '../../../shared/bus';
import { OffsetOutOfRangeError } from '../../../shared/errors';
import { raiseFloor } from '../../../shared/log/floor';
import { FloorKeeper } from '../../../shared/log/floor-keeper';
import { partitionKey } from '../../../shared/log/partition-key';
import { TopicRegistry } from '../../../shared/registry/topic-registry';
import {
  documentClient,
  eventually,
  expireAllSegments,
  newLog,
  partitionItems,
  record,
  testConfig,
  uniqueTopic,
} from '../../support/aws';

// The dispatcher keeps floors from the log table's stream, as deployed (docs/adr/0002).
const poller = new StreamPoller({
  dynamo: new DynamoDBClient({}),
  streams: new DynamoDBStreamsClient({}),
  table: testConfig().logTable,
  // Floors only: no deliverer is woken from this test.
  handler: createDispatcherHandler(createDispatcherRole(createBusCore({ waker: { wake: async () => {} } }))),
  batchSize: 100,
  eventNames: ['INSERT'],
  idleMs: 50,
});
beforeAll(() => poller.start());
afterAll(() => poller.stop());

const HOUR = 3600 * 1000;

describe('retention', () => {
  test('a partition whose every segment expired continues after its last offset', async () => {
    // GIVEN a topic whose partition has 5 events in 3 segments
    const topic = uniqueTopic('idle');
    await new TopicRegistry(documentClient(), testConfig().registryTable).create({
      name: topic,
      partitions: 1,
      retentionHours: 24,
    });
    const log = newLog();
    await log.append(topic, 0, 24, [record(1), record(2)]);
    // The stream raises the floor at once for a partition it has not raised lately ...
    // Generous: the poller first reads the stream backlog of every other test in the run.
    await eventually(async () => ((await floorOf(topic)) === 2 ? true : undefined), 90_000);
    await log.append(topic, 0, 24, [record(3)]);
    await log.append(topic, 0, 24, [record(4), record(5)]);
    // ... and the scheduled sweeper brings it up to the head, whatever the stream skipped.
    await createSweeperHandler()();
    expect(await floorOf(topic)).toBe(5);

    // WHEN TTL deletes every segment
    expect(await expireAllSegments(topic, 0)).toBe(3);

    // THEN a fresh appender (no cached head) continues at 5: no offset is reused
    const { baseOffset } = await newLog().append(topic, 0, 24, [record(6)]);
    expect(baseOffset).toBe(5);
    expect(await newLog().offsets(topic, 0)).toEqual({ startOffset: 5, endOffset: 6 });
    await expect(newLog().read(topic, 0, 0, 10)).rejects.toMatchObject({
      code: 'OFFSET_OUT_OF_RANGE',
      startOffset: 5,
    });
    const { records } = await newLog().read(topic, 0, 5, 10);
    expect(records.map((r) => JSON.parse(r.value.toString()))).toEqual([6]);
  }, 150_000);

  test('the stream raises a partition floor at most once a minute from one process; catch-up does the rest', async () => {
    // This process's keeper alone: the file's stream poller would raise the same floors on its own clock.
    await poller.stop();
    const dynamo = documentClient();
    const table = testConfig().logTable;
    let now = Date.now();
    const keeper = new FloorKeeper({ dynamo, table, now: () => now });
    const topic = uniqueTopic('keeper');
    const pk = partitionKey(topic, 0);
    const log = newLog();
    await log.append(topic, 0, 24, [record(1)]);
    await keeper.onSegments([{ pk, last: 0 }]);
    expect(await floorOf(topic)).toBe(1);
    await log.append(topic, 0, 24, [record(2)]);
    now += 59_000;
    await keeper.onSegments([{ pk, last: 1 }]);
    expect(await floorOf(topic)).toBe(1);
    now += 1_000;
    await log.append(topic, 0, 24, [record(3)]);
    await keeper.onSegments([{ pk, last: 2 }]);
    expect(await floorOf(topic)).toBe(3);
    await log.append(topic, 0, 24, [record(4)]);
    expect(await keeper.catchUp([pk])).toBe(1);
    expect(await floorOf(topic)).toBe(4);
    expect(await keeper.catchUp([pk])).toBe(0);
    poller.start();
  });

  test('segments past expiresAt are gone to readers before TTL deletes them', async () => {
    const topic = uniqueTopic('expired');
    await newLog().append(topic, 0, 24, [record('old')]);
    const later = newLog({ now: () => Date.now() + 25 * HOUR });

    await expect(later.read(topic, 0, 0, 10)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    expect(await later.offsets(topic, 0)).toEqual({ startOffset: 1, endOffset: 1 });
    // Within retention the same event is there.
    expect((await newLog().read(topic, 0, 0, 10)).records).toHaveLength(1);
  });

  test('the floor only ever rises', async () => {
    const topic = uniqueTopic('floor');
    const pk = partitionKey(topic, 0);
    const { logTable } = testConfig();
    expect(await raiseFloor(documentClient(), logTable, pk, 3)).toBe(true);
    expect(await raiseFloor(documentClient(), logTable, pk, 1)).toBe(false);
    expect(await floorOf(topic)).toBe(3);
  });
});

async function floorOf(topic: string): Promise<number | undefined> {
  return (await partitionItems(topic, 0)).find((i) => i.sk === -1)?.floor;
}
