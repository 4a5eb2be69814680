import { rmSync } from 'node:fs';
import path from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { App } from 'aws-cdk-lib';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import cdkJson from '../../cdk.json';
import { EventBusStack } from '../../infra/eventbus-stack';
import { documentClient, testConfig, uniqueTopic } from '../support/aws';
import { startWebhookReceiver } from '../support/delivery';

// Inside the repository, so the bundles find the SDK the Lambda runtime would provide in node_modules.
const outdir = path.resolve(__dirname, '../../.test-data', `cdk-${process.pid}`);
const ADMIN_KEY = 'bundled-admin-key-0123456789';
let handlers: Record<
  'Api' | 'Dispatcher' | 'Deliverer' | 'Sweeper' | 'Registrar',
  (event: unknown, context: unknown) => Promise<any>
>;

beforeAll(() => {
  // GIVEN the stack synthesized with its functions bundled by esbuild, as `cdk deploy` uploads them
  const app = new App({ context: { ...cdkJson.context, 'aws:cdk:enable-asset-metadata': true }, outdir });
  const stack = new EventBusStack(app, 'Bundles');
  // A declared topic brings the registrar, which applies declarations at deploy time.
  stack.bus.addTopic('bundled-orders', { partitions: 1 });
  const assembly = app.synth();
  const template = assembly.getStackByName(stack.stackName).template as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, string> }>;
  };
  const entries = Object.entries(template.Resources).filter(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['aws:asset:path'],
  );
  const load = (id: string) => {
    const [, resource] = entries.find(([logicalId]) => logicalId.startsWith(`Bus${id}`)) ?? [];
    if (!resource?.Metadata) throw new Error(`no bundled function ${id}`);
    return require(path.join(outdir, resource.Metadata['aws:asset:path'], 'index.js')).handler;
  };
  handlers = {
    Api: load('Api'),
    Dispatcher: load('Dispatcher'),
    Deliverer: load('Deliverer'),
    Sweeper: load('Sweeper'),
    Registrar: load('Registrar'),
  };
  process.env.EVENTBUS_ADMIN_KEY = ADMIN_KEY;
  // The deliverer's webhook below listens on loopback, which only local mode allows.
  process.env.EVENTBUS_WEBHOOK_ALLOW = 'loopback,http';
}, 180_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function request(method: string, rawPath: string, body?: unknown): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { http: { method, path: rawPath } } as APIGatewayProxyEventV2['requestContext'],
  };
}

describe('the bundled functions', () => {
  test('THEN the api bundle creates a topic, publishes and reads back', async () => {
    const topic = uniqueTopic('bundle');
    const api = handlers.Api;
    expect(
      (await api(request('PUT', `/topics/${topic}`, { partitions: 1, retentionHours: 24 }), {})).statusCode,
    ).toBe(201);
    const published = await api(
      request('POST', `/topics/${topic}/events`, { events: [{ key: 'k', value: { n: 1 } }] }),
      {},
    );
    expect(JSON.parse(published.body)).toEqual({ results: [{ partition: 0, offset: 0 }] });
    const read = await api(
      { ...request('GET', `/topics/${topic}/partitions/0/events`), queryStringParameters: { offset: '0' } },
      {},
    );
    expect(JSON.parse(read.body).events).toMatchObject([{ offset: 0, key: 'k', value: { n: 1 } }]);
  });

  test('THEN the dispatcher bundle raises a floor from a stream record', async () => {
    const pk = `${uniqueTopic('bundle')}#0`;
    await handlers.Dispatcher(
      {
        Records: [
          {
            eventName: 'INSERT',
            dynamodb: { NewImage: { pk: { S: pk }, sk: { N: '0' }, last: { N: '4' } } },
          },
        ],
      },
      {},
    );
    const meta = await documentClient().send(
      new GetCommand({ TableName: testConfig().logTable, Key: { pk, sk: -1 } }),
    );
    expect(meta.Item?.floor).toBe(5);
  });

  test('THEN the deliverer bundle delivers a subscription to its webhook and commits', async () => {
    const topic = uniqueTopic('bundle');
    const receiver = await startWebhookReceiver();
    try {
      const api = handlers.Api;
      await api(request('PUT', `/topics/${topic}`, { partitions: 1, retentionHours: 24 }), {});
      const group = `${topic}-group`;
      const created = await api(
        request('PUT', `/subscriptions/${group}`, { topic, target: { type: 'webhook', url: receiver.url } }),
        {},
      );
      expect(created.statusCode).toBe(201);
      await api(
        request('POST', `/topics/${topic}/events`, { events: [{ value: { n: 1 } }, { value: { n: 2 } }] }),
        {},
      );
      const run = await handlers.Deliverer(
        { cursor: group, partition: 0 },
        { getRemainingTimeInMillis: () => 30_000 },
      );
      expect(run).toMatchObject({ result: 'caught-up', delivered: 2 });
      expect(receiver.batches.map((b) => b.batch.events.map((e) => e.value))).toEqual([[{ n: 1 }, { n: 2 }]]);
      const described = JSON.parse((await api(request('GET', `/subscriptions/${group}`), {})).body);
      expect(described.partitions[0]).toMatchObject({ committedOffset: 2, lag: 0 });
    } finally {
      await receiver.close();
    }
  });

  test('THEN the registrar bundle registers a declared topic, which the api bundle then shows', async () => {
    const topic = uniqueTopic('declared');
    const declaration = {
      kind: 'topic',
      topic: { name: topic, partitions: 2, retentionHours: 48 },
      removeOnDelete: false,
    };
    const answer = await handlers.Registrar(
      {
        RequestType: 'Create',
        ResourceProperties: { ServiceToken: 'x', Declaration: JSON.stringify(declaration) },
      },
      {},
    );
    expect(answer).toEqual({ PhysicalResourceId: `topic:${topic}` });
    const described = JSON.parse((await handlers.Api(request('GET', `/topics/${topic}`), {})).body);
    expect(described).toMatchObject({ name: topic, retentionHours: 48 });
    expect(described.partitions).toHaveLength(2);
  });

  test('THEN the sweeper bundle runs', async () => {
    expect(await handlers.Sweeper({}, {})).toMatchObject({ floorsRaised: expect.any(Number) });
  });
});
