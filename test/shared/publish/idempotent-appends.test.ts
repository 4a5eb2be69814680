import { Log } from '../../../shared/log/log';
import { IdempotentAppends } from '../../../shared/publish/idempotent-appends';
import { type OutgoingEvent, Publisher } from '../../../shared/publish/publisher';
import { TopicRegistry } from '../../../shared/registry/topic-registry';
import { documentClient, partitionItems, s3Client, testConfig, uniqueTopic } from '../../support/aws';
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

/** A publisher as one process (one Lambda instance) has it, on its own clients. */
function publisher(dynamo = documentClient()) {
  const log = new Log({ dynamo, s3: s3Client(), config: { ...config, appendAttempts: 1 } });
  return new Publisher(log, new IdempotentAppends(dynamo, config.registryTable, log));
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
