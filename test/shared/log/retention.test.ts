import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { createDispatcherHandler } from '../../../functions/dispatcher/handler';
import { StreamPoller } from '../../../local/stream-poller';
import { OffsetOutOfRangeError } from '../../../shared/errors';
import { raiseFloor } from '../../../shared/log/floor';
import { partitionKey } from '../../../shared/log/partition-key';
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

// The dispatcher raises floors from the log table's stream, as deployed (docs/adr/0002).
const poller = new StreamPoller({
  dynamo: new DynamoDBClient({}),
  streams: new DynamoDBStreamsClient({}),
  table: testConfig().logTable,
  handler: createDispatcherHandler(),
  batchSize: 100,
  eventNames: ['INSERT'],
  idleMs: 50,
});
beforeAll(() => poller.start());
afterAll(() => poller.stop());

const HOUR = 3600 * 1000;

describe('retention', () => {
  test('a partition whose every segment expired continues after its last offset', async () => {
    // GIVEN a partition with 5 events in 3 segments, and the stream has raised its floor
    const topic = uniqueTopic('idle');
    const log = newLog();
    await log.append(topic, 0, 24, [record(1), record(2)]);
    await log.append(topic, 0, 24, [record(3)]);
    await log.append(topic, 0, 24, [record(4), record(5)]);
    await eventually(async () =>
      (await partitionItems(topic, 0)).find((i) => i.sk === -1)?.floor === 5 ? true : undefined,
    );

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
    const log = newLog();
    await log.append(topic, 0, 24, [record(1), record(2), record(3)]);
    await eventually(async () =>
      (await partitionItems(topic, 0)).find((i) => i.sk === -1)?.floor === 3 ? true : undefined,
    );
    expect(await raiseFloor(documentClient(), testConfig().logTable, partitionKey(topic, 0), 1)).toBe(false);
    expect((await partitionItems(topic, 0)).find((i) => i.sk === -1)?.floor).toBe(3);
  });
});
