import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Log } from '../../../shared/log/log';
import { IdempotentAppends } from '../../../shared/publish/idempotent-appends';
import { type OutgoingEvent, Publisher } from '../../../shared/publish/publisher';
import { TopicRegistry } from '../../../shared/registry/topic-registry';
import {
  documentClient,
  newLog,
  partitionItems,
  record,
  s3Client,
  testConfig,
  uniqueTopic,
} from '../../support/aws';
import { type Fault, faultyDynamo } from '../../support/faults';

const config = testConfig();
/** The string in a marshalled (`{S: …}`) or plain attribute value. */
const text = (value: any): string => String(value?.S ?? value ?? '');
const isClaim = (command: string, input: any) =>
  /^Put/.test(command) &&
  input.TableName === config.registryTable &&
  text(input.Item?.pk).startsWith('idempotency#');
const isCommit = (command: string, input: any) => /^Put/.test(command) && input.TableName === config.logTable;
const isCompletion = (command: string, input: any) =>
  /^Update/.test(command) && text(input.ExpressionAttributeValues?.[':completed']) === 'COMPLETED';

/** A publisher as one process (one Lambda instance) has it, on its own clients and clock. */
function publisher(dynamo = documentClient(), now = Date.now) {
  const log = new Log({ dynamo, s3: s3Client(), config: { ...config, appendAttempts: 1 } });
  return new Publisher(log, new IdempotentAppends(dynamo, config.registryTable, log, now));
}

/** Another instance committing `count` single-event segments, its events stamped at `timestamp`. */
async function othersAppend(topic: string, count: number, timestamp = Date.now()): Promise<void> {
  const log = newLog();
  for (let i = 0; i < count; i++) await log.append(topic, 0, 24, [record({ other: i }, null, timestamp)]);
}

/** A client whose Query answers are counted by the items they carry from the log table. */
function countingReads(): { dynamo: ReturnType<typeof documentClient>; itemsRead: () => number } {
  let items = 0;
  const client = new DynamoDBClient({});
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = (args as { input: { TableName?: string } }).input;
      if (context.commandName === 'QueryCommand' && input.TableName === config.logTable)
        items += ((result.output as { Items?: unknown[] }).Items ?? []).length;
      return result;
    },
    { step: 'initialize', name: 'countReads' },
  );
  return { dynamo: documentClient(client), itemsRead: () => items };
}

const events: OutgoingEvent[] = [0, 1, 2].map((n) => ({
  key: null,
  value: Buffer.from(JSON.stringify({ n })),
  json: true,
  headers: {},
}));

async function topicOf(): Promise<{ name: string; partitions: number; retentionHours: number }> {
  const topic = { name: uniqueTopic('idem'), partitions: 1, retentionHours: 24 };
  await new TopicRegistry(documentClient(), config.registryTable).create(topic);
  return topic;
}

async function eventsIn(topic: string): Promise<number> {
  return (await partitionItems(topic, 0))
    .filter((item) => item.sk >= 0)
    .reduce((sum, item) => sum + item.count, 0);
}

describe('an idempotent publish under a single fault appends exactly once', () => {
  test.each([
    ['before the key is claimed', [{ when: isClaim, faults: ['crash-before-send' as Fault] }]],
    ['after the key is claimed, its answer lost', [{ when: isClaim, faults: ['lose-answer' as Fault] }]],
    ['before the commit is sent', [{ when: isCommit, faults: ['crash-before-send' as Fault] }]],
    ['after the commit, its answer lost', [{ when: isCommit, faults: ['lose-answer' as Fault] }]],
    [
      'after the commit, when the record cannot be completed',
      [{ when: isCompletion, faults: ['crash-before-send', 'crash-before-send'] as Fault[] }],
    ],
    [
      'after the commit and its completion, both of whose answers are lost',
      [{ when: isCompletion, faults: ['lose-answer', 'lose-answer'] as Fault[] }],
    ],
  ])(
    '%s',
    async (_fault, rules) => {
      const topic = await topicOf();
      // GIVEN a first attempt that meets the fault
      const first = await publisher(faultyDynamo(rules)).publish(topic, events, {
        idempotencyKey: 'k',
        scope: 's',
      });
      // (the fault did happen)
      expect(rules.map((rule) => rule.faults.length)).toEqual(rules.map(() => 0));
      // WHEN the client retries, from another instance, until it gets an answer
      let answer = first;
      for (let retry = 0; !answer.complete && retry < 40; retry++) {
        try {
          answer = await publisher().publish(topic, events, { idempotencyKey: 'k', scope: 's' });
        } catch (error) {
          // 409 while the first attempt's lock lasts (it might still commit): retry later.
          if ((error as { status?: number }).status !== 409) throw error;
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      }
      // THEN the events are in the partition once, at the offsets the answer names
      expect(answer.complete).toBe(true);
      expect(await eventsIn(topic.name)).toBe(3);
      expect(answer.results).toEqual([0, 1, 2].map((offset) => ({ partition: 0, offset })));
      // AND a further retry appends nothing and answers the same
      const again = await publisher().publish(topic, events, { idempotencyKey: 'k', scope: 's' });
      expect(again.results).toEqual(answer.results);
      expect(await eventsIn(topic.name)).toBe(3);
    },
    60_000,
  );
});

describe('a retry looks for the earlier attempt by time, not by a count of segments', () => {
  test('it finds a commit whose answer was lost however many segments other instances committed before it landed', async () => {
    // GIVEN an attempt that claims its key, then waits while another instance commits 1,100 segments
    // (a crowded partition), then commits, and its answer is lost
    const topic = await topicOf();
    const client = new DynamoDBClient({});
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = (args as { input: any }).input;
        const result = await next(args);
        if (isClaim(context.commandName ?? '', input)) await othersAppend(topic.name, 1_100);
        if (isCommit(context.commandName ?? '', input))
          throw Object.assign(new Error('socket hang up'), { name: 'NetworkingError' });
        return result;
      },
      { step: 'initialize', name: 'crowdThenLoseAnswer' },
    );
    const first = await publisher(documentClient(client)).publish(topic, events, {
      idempotencyKey: 'k',
      scope: 's',
    });
    expect(first.complete).toBe(false);

    // WHEN the client retries from another instance
    const answer = await publisher().publish(topic, events, { idempotencyKey: 'k', scope: 's' });

    // THEN it gets the offsets where the first attempt committed, and the events are in the partition once
    expect(answer.complete).toBe(true);
    expect(answer.results).toEqual([0, 1, 2].map((i) => ({ partition: 0, offset: 1_100 + i })));
    expect(await eventsIn(topic.name)).toBe(1_100 + 3);
  }, 120_000);

  test('after an attempt that never committed, the retry reads no further than where events are stamped past its lock, then appends once', async () => {
    // GIVEN an attempt that died before its commit left
    const topic = await topicOf();
    const first = await publisher(faultyDynamo([{ when: isCommit, faults: ['crash-before-send'] }])).publish(
      topic,
      events,
      { idempotencyKey: 'k', scope: 's' },
    );
    expect(first.complete).toBe(false);
    // AND, after it, one segment stamped during its lock and 1,100 stamped long after
    await othersAppend(topic.name, 1);
    await othersAppend(topic.name, 1_100, Date.now() + 5 * 60_000);

    // WHEN the client retries from an instance whose clock is past the attempt's lock
    const reads = countingReads();
    const later = () => Date.now() + 31_000;
    const answer = await publisher(reads.dynamo, later).publish(topic, events, {
      idempotencyKey: 'k',
      scope: 's',
    });

    // THEN the retry appends the events once, after the others
    expect(answer.complete).toBe(true);
    expect(answer.results).toEqual([0, 1, 2].map((i) => ({ partition: 0, offset: 1_101 + i })));
    expect(await eventsIn(topic.name)).toBe(1_101 + 3);
    // AND it read one page of the log looking for the attempt, not the whole partition above it
    expect(reads.itemsRead()).toBeLessThan(1_101);
  }, 120_000);
});
