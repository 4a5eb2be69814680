import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
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

/**
 * The sweeper's tests keep their segments in a bucket of their own. A sweep
 * looks at every object of its bucket, and these run with the clock hours
 * ahead: in the shared bucket they would take other files' uploads still
 * being committed for orphans, and other files' orphans for theirs.
 */
const SWEPT_BUCKET = `${testConfig().bucket}-swept-${randomBytes(3).toString('hex')}`;
const sweptLog = (options: Parameters<typeof newLog>[0] = {}) =>
  newLog({ ...options, config: { ...options.config, bucket: SWEPT_BUCKET } });

beforeAll(async () => {
  await s3Client().send(new CreateBucketCommand({ Bucket: SWEPT_BUCKET }));
});

describe('a crash at any step loses no acknowledged event', () => {
  test('a crash after the S3 upload and before the commit acknowledges nothing, reuses no offset, and the sweeper removes the orphan', async () => {
    // GIVEN a partition with one committed event
    const topic = uniqueTopic('crash');
    await sweptLog().append(topic, 0, 24, large());

    // WHEN an appender uploads its segment and dies before the commit
    const dying = sweptLog({
      dynamo: faultyDynamo([{ when: isPut, faults: ['crash-before-send'] }]),
      config: { appendAttempts: 1 },
    });
    await expect(dying.append(topic, 0, 24, large())).rejects.toThrow();
    expect(await segmentObjects(topic, SWEPT_BUCKET)).toHaveLength(2);

    // THEN the next append continues at offset 1, and reading shows exactly the acknowledged events
    const { baseOffset } = await sweptLog().append(topic, 0, 24, [record('after')]);
    expect(baseOffset).toBe(1);
    const { records } = await sweptLog().read(topic, 0, 0, 10);
    expect(records.map((r) => r.offset)).toEqual([0, 1]);

    // AND the sweeper, once the grace period is over, removes only the orphaned object
    const committedKey = (await partitionItems(topic, 0)).find((i) => i.s3Key)?.s3Key;
    const { logTable } = testConfig();
    const s3 = s3Client();
    const result = await sweepOrphanSegments({
      dynamo: documentClient(),
      s3,
      segments: new SegmentStore(s3, SWEPT_BUCKET),
      table: logTable,
      bucket: SWEPT_BUCKET,
      now: () => Date.now() + 2 * 60 * 60 * 1000,
    });
    expect(result.removed).toHaveLength(1);
    expect(result.removed[0]).toMatch(new RegExp(`^segments/${topic}/0/`));
    expect(await segmentObjects(topic, SWEPT_BUCKET)).toEqual([committedKey]);
    expect((await sweptLog().read(topic, 0, 0, 10)).records).toHaveLength(2);
  });

  test('the sweeper leaves young objects alone: their append may still commit', async () => {
    const topic = uniqueTopic('young');
    const dying = sweptLog({
      dynamo: faultyDynamo([{ when: isPut, faults: ['crash-before-send'] }]),
      config: { appendAttempts: 1 },
    });
    await expect(dying.append(topic, 0, 24, large())).rejects.toThrow();
    const { logTable } = testConfig();
    const s3 = s3Client();
    const segments = new SegmentStore(s3, SWEPT_BUCKET);
    await sweepOrphanSegments({
      dynamo: documentClient(),
      s3,
      segments,
      table: logTable,
      bucket: SWEPT_BUCKET,
    });
    expect(await segmentObjects(topic, SWEPT_BUCKET)).toHaveLength(1);
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

  /**
   * A client whose first PutItem meets `fault`, and `inWindow` runs inside the fault window: after the
   * write landed and before its answer would arrive (`lose-answer`), or instead of sending it (`unsent`).
   */
  function faultWithWriter(fault: 'lose-answer' | 'unsent', inWindow: () => Promise<unknown>) {
    const client = new DynamoDBClient({});
    let armed = true;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (!armed || !/^Put/.test(context.commandName ?? '')) return next(args);
        armed = false;
        if (fault === 'unsent') {
          await inWindow();
          throw Object.assign(new Error('connection reset before the request was written'), {
            name: 'TimeoutError',
          });
        }
        await next(args);
        await inWindow();
        throw Object.assign(new Error('socket hang up'), { name: 'NetworkingError' });
      },
      { step: 'initialize', name: 'faultWithWriter' },
    );
    return documentClient(client);
  }

  test('a commit whose answer is lost while another writer commits inside the window is not duplicated', async () => {
    // GIVEN a partition with one event, and a writer whose commit lands but whose answer is lost
    const topic = uniqueTopic('window1');
    const other = newLog();
    await other.append(topic, 0, 24, [record('x')]);
    let otherOffset = -1;
    const log = newLog({
      dynamo: faultWithWriter('lose-answer', async () => {
        // WHEN another writer commits right after it, before the first writer's retry
        otherOffset = (await other.append(topic, 0, 24, [record('y')])).baseOffset;
      }),
    });
    const mine = await log.append(topic, 0, 24, [record('mine')]);
    // THEN the retry recognises its own segment: acknowledged once, at the offset it landed on
    expect(mine.baseOffset).toBe(1);
    expect(otherOffset).toBe(2);
    const { records } = await newLog().read(topic, 0, 0, 10);
    expect(records.map((r) => [r.offset, JSON.parse(r.value.toString())])).toEqual([
      [0, 'x'],
      [1, 'mine'],
      [2, 'y'],
    ]);
  });

  test('a commit that never left while another writer takes its head lands after it, once', async () => {
    // GIVEN a writer whose first commit fails before reaching DynamoDB (outcome unknown to it)
    const topic = uniqueTopic('window2');
    const other = newLog();
    await other.append(topic, 0, 24, [record('x')]);
    let otherOffset = -1;
    const log = newLog({
      dynamo: faultWithWriter('unsent', async () => {
        // WHEN another writer commits at the very head the first one was trying
        otherOffset = (await other.append(topic, 0, 24, [record('y')])).baseOffset;
      }),
    });
    const mine = await log.append(topic, 0, 24, [record('mine')]);
    // THEN the retry at that head meets the other writer's segment, not its own, and moves on
    expect(otherOffset).toBe(1);
    expect(mine.baseOffset).toBe(2);
    const { records } = await newLog().read(topic, 0, 0, 10);
    expect(records.map((r) => [r.offset, JSON.parse(r.value.toString())])).toEqual([
      [0, 'x'],
      [1, 'y'],
      [2, 'mine'],
    ]);
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
