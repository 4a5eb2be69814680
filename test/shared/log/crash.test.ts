import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { COMMIT_DEADLINE_MS } from '../../../shared/log/appender';
import { sweepOrphanSegments } from '../../../shared/log/orphan-sweeper';
import { SegmentStore } from '../../../shared/log/segment-store';
import {
  documentClient,
  newLog,
  partitionItems,
  record,
  s3Client,
  segmentObjects,
  testConfig,
  uniqueTopic,
} from '../../support/aws';
import { faultyDynamo, isPut } from '../../support/faults';

/** Random text: no compression brings it under the 8 KiB inline threshold, so it goes to S3. */
const large = () => [record(randomBytes(10_000).toString('base64'))];

describe('a crash at any step loses no acknowledged event', () => {
  test('a crash after the S3 upload and before the commit acknowledges nothing, reuses no offset, and the sweeper removes the orphan', async () => {
    // GIVEN a partition with one committed event
    const topic = uniqueTopic('crash');
    await newLog().append(topic, 0, 24, large());

    // WHEN an appender uploads its segment and dies before the commit
    const dying = newLog({
      dynamo: faultyDynamo([{ when: isPut, faults: ['crash-before-send'] }]),
      config: { appendAttempts: 1 },
    });
    await expect(dying.append(topic, 0, 24, large())).rejects.toThrow();
    expect(await segmentObjects(topic)).toHaveLength(2);

    // THEN the next append continues at offset 1, and reading shows exactly the acknowledged events
    const { baseOffset } = await newLog().append(topic, 0, 24, [record('after')]);
    expect(baseOffset).toBe(1);
    const { records } = await newLog().read(topic, 0, 0, 10);
    expect(records.map((r) => r.offset)).toEqual([0, 1]);

    // AND the sweeper, once the grace period is over, removes only the orphaned object
    const committedKey = (await partitionItems(topic, 0)).find((i) => i.s3Key)?.s3Key;
    const { bucket, logTable } = testConfig();
    const s3 = s3Client();
    const result = await sweepOrphanSegments({
      dynamo: documentClient(),
      s3,
      segments: new SegmentStore(s3, bucket),
      table: logTable,
      bucket,
      now: () => Date.now() + 2 * 60 * 60 * 1000,
    });
    expect(result.removed).toHaveLength(1);
    expect(result.removed[0]).toMatch(new RegExp(`^segments/${topic}/0/`));
    expect(await segmentObjects(topic)).toEqual([committedKey]);
    expect((await newLog().read(topic, 0, 0, 10)).records).toHaveLength(2);
  });

  test('the sweeper leaves young objects alone: their append may still commit', async () => {
    const topic = uniqueTopic('young');
    const dying = newLog({
      dynamo: faultyDynamo([{ when: isPut, faults: ['crash-before-send'] }]),
      config: { appendAttempts: 1 },
    });
    await expect(dying.append(topic, 0, 24, large())).rejects.toThrow();
    const { bucket, logTable } = testConfig();
    const s3 = s3Client();
    const segments = new SegmentStore(s3, bucket);
    await sweepOrphanSegments({ dynamo: documentClient(), s3, segments, table: logTable, bucket });
    expect(await segmentObjects(topic)).toHaveLength(1);
  });

  test('a commit whose answer is lost is recognised on retry: acknowledged once, no duplicate, no gap', async () => {
    // GIVEN an appender whose first commit lands but whose answer is lost
    const topic = uniqueTopic('lost');
    const log = newLog({ dynamo: faultyDynamo([{ when: isPut, faults: ['lose-answer'] }]) });

    // WHEN it appends
    const first = await log.append(topic, 0, 24, [record('a'), record('b')]);
    const second = await newLog().append(topic, 0, 24, [record('c')]);

    // THEN the events were committed exactly once, at the offsets acknowledged
    expect(first).toEqual({ baseOffset: 0, count: 2 });
    expect(second.baseOffset).toBe(2);
    const { records } = await newLog().read(topic, 0, 0, 10);
    expect(records.map((r) => [r.offset, JSON.parse(r.value.toString())])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ]);
    expect((await partitionItems(topic, 0)).filter((i) => i.sk >= 0)).toHaveLength(2);
  });

  test('a commit whose answer is lost while another writer moves the head still is not duplicated', async () => {
    const topic = uniqueTopic('lost2');
    const other = newLog();
    await other.append(topic, 0, 24, [record('x')]);
    const log = newLog({ dynamo: faultyDynamo([{ when: isPut, faults: ['lose-answer'] }]) });
    const mine = await log.append(topic, 0, 24, [record('mine')]);
    await other.append(topic, 0, 24, [record('y')]);
    const { records } = await newLog().read(topic, 0, 0, 10);
    expect(records.map((r) => JSON.parse(r.value.toString()))).toEqual(['x', 'mine', 'y']);
    expect(mine.baseOffset).toBe(1);
  });
});

test('an append whose upload is older than the commit deadline does not commit, so the sweeper may remove it', async () => {
  // GIVEN an appender whose clock jumps past the deadline between the upload and the commit
  // (a Lambda frozen mid-append and thawed minutes later)
  const topic = uniqueTopic('late');
  let skew = 0;
  const dynamo = new DynamoDBClient({});
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (/^Query/.test(context.commandName ?? '')) skew += COMMIT_DEADLINE_MS + 1;
      return result;
    },
    { step: 'initialize', name: 'freezeAfterHeadRead' },
  );
  const log = newLog({ dynamo: documentClient(dynamo), now: () => Date.now() + skew });

  // WHEN it appends a segment large enough for S3
  await expect(log.append(topic, 0, 24, large())).rejects.toMatchObject({ code: 'UNAVAILABLE' });

  // THEN nothing was committed, and the uploaded object is an orphan
  expect(await newLog().offsets(topic, 0)).toEqual({ startOffset: 0, endOffset: 0 });
  expect(await segmentObjects(topic)).toHaveLength(1);
});
