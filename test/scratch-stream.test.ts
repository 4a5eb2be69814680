import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { StreamPoller } from '../local/stream-poller';
import { newLog, record, testConfig, uniqueTopic } from './support/aws';

test('stream latency', async () => {
  const seen = new Map<string, number>();
  const poller = new StreamPoller({
    dynamo: new DynamoDBClient({}),
    streams: new DynamoDBStreamsClient({}),
    table: testConfig().logTable,
    handler: async (event) => {
      for (const r of event.Records)
        seen.set(
          `${(r.dynamodb as any)?.NewImage?.pk?.S}/${(r.dynamodb as any)?.NewImage?.sk?.N}`,
          Date.now(),
        );
      return undefined;
    },
    batchSize: 100,
    eventNames: ['INSERT'],
    idleMs: 50,
  });
  poller.start();
  const log = newLog();
  const topic = uniqueTopic();
  await new Promise((r) => setTimeout(r, 2000));
  const lat: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = Date.now();
    const { baseOffset } = await log.append(topic, 0, 24, [record({ i })]);
    const t1 = Date.now();
    const id = `${topic}#0/${baseOffset}`;
    while (!seen.has(id)) await new Promise((r) => setTimeout(r, 2));
    lat.push(seen.get(id)! - t1);
    if (i === 0) console.log('append ms', t1 - t0);
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log('stream lag ms', lat.sort((a, b) => a - b).join(','));
  await poller.stop();
});
