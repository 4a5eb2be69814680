import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createApiHandler } from '../../functions/api/handler';
import { createRegistrarHandler } from '../../functions/registrar/handler';
import { DEFAULT_LIMITS } from '../../shared/publish/limits';
import type { Declaration } from '../../shared/registry/declarations';
import { startTestApi, type TestApi } from '../support/api';
import { DELIVERY_TEST_ENV, type DeliveryHarness, startDelivery } from '../support/delivery';

/** A CloudFormation event as the CDK Provider framework hands it to the registrar. */
function cfnEvent(
  requestType: 'Create' | 'Update' | 'Delete',
  declaration: Declaration,
  previous?: Declaration,
  physicalResourceId = 'unused',
): CloudFormationCustomResourceEvent {
  return {
    RequestType: requestType,
    ServiceToken: 'token',
    ResponseURL: 'https://example.com',
    StackId: 'stack',
    RequestId: randomUUID(),
    LogicalResourceId: 'Declaration',
    ResourceType: 'Custom::EventBusTopic',
    ResourceProperties: { ServiceToken: 'token', Declaration: JSON.stringify(declaration) },
    ...(previous ? { OldResourceProperties: { Declaration: JSON.stringify(previous) } } : {}),
    ...(requestType === 'Create' ? {} : { PhysicalResourceId: physicalResourceId }),
  } as CloudFormationCustomResourceEvent;
}

describe('the registrar applies declarations to the registry (against DynamoDB Local)', () => {
  let api: TestApi;
  let register: ReturnType<typeof createRegistrarHandler>;
  const run = randomUUID().slice(0, 8);
  const topic = (partitions = 2): Declaration => ({
    kind: 'topic',
    topic: { name: `declared-${run}`, partitions, retentionHours: 48 },
    removeOnDelete: true,
  });
  const subscription = (batchSize: number, removeOnDelete = false): Declaration => ({
    kind: 'subscription',
    group: `declared-group-${run}`,
    subscription: {
      topic: `declared-${run}`,
      target: { type: 'lambda', function: 'arn:aws:lambda:us-east-1:123456789012:function:billing' },
      batchSize,
      startFrom: 'earliest',
    },
    removeOnDelete,
  });

  beforeAll(async () => {
    api = await startTestApi();
    register = createRegistrarHandler(api.bus, async () => 'unused');
  });
  afterAll(() => api.close());

  test('GIVEN a declared topic WHEN it is created, and created again THEN the API shows it once, unchanged', async () => {
    expect(await register(cfnEvent('Create', topic()))).toEqual({
      PhysicalResourceId: `topic:declared-${run}`,
    });
    await register(cfnEvent('Update', topic(), topic(), `topic:declared-${run}`));
    const described = await api.request('GET', `/topics/declared-${run}`);
    expect(described.status).toBe(200);
    expect(described.body).toMatchObject({ name: `declared-${run}`, retentionHours: 48 });
    expect(described.body.partitions).toHaveLength(2);
  });

  test('fails when a deployment changes a topic partitions, saying why, and the topic stays as it was', async () => {
    await expect(register(cfnEvent('Update', topic(3), topic(), `topic:declared-${run}`))).rejects.toThrow(
      /partitions and retention cannot change/,
    );
    expect((await api.request('GET', `/topics/declared-${run}`)).body.partitions).toHaveLength(2);
  });

  test('GIVEN a declared subscription WHEN created THEN it exists with cursors before the first event', async () => {
    await register(cfnEvent('Create', subscription(50)));
    const described = await api.request('GET', `/subscriptions/declared-group-${run}`);
    expect(described.status).toBe(200);
    expect(described.body).toMatchObject({ batchSize: 50, startFrom: 'earliest' });
    expect(described.body.partitions.map((p: { committedOffset: number }) => p.committedOffset)).toEqual([
      0, 0,
    ]);
  });

  test('GIVEN events delivered in part WHEN the subscription is redeclared THEN it is replaced and keeps its cursors', async () => {
    const ref = { cursor: `declared-group-${run}`, partition: 0 };
    // The group has moved on: offset 5 of partition 0 is where it stands.
    await api.bus.cursors.reset(ref, `declared-${run}`, 5);
    await register(
      cfnEvent('Update', subscription(10), subscription(50), `subscription:declared-group-${run}`),
    );
    const described = await api.request('GET', `/subscriptions/declared-group-${run}`);
    expect(described.body.batchSize).toBe(10);
    expect(described.body.partitions[0].committedOffset).toBe(5);
  });

  test('fails when the subscription names an undeclared topic or an invalid option, changing nothing', async () => {
    const bad: Declaration = {
      kind: 'subscription',
      group: `other-${run}`,
      subscription: { topic: `missing-${run}`, target: { type: 'lambda', function: 'billing' } },
      removeOnDelete: false,
    };
    await expect(register(cfnEvent('Create', bad))).rejects.toThrow(/missing-/);
    expect((await api.request('GET', `/subscriptions/other-${run}`)).status).toBe(404);
  });

  test('GIVEN a group made through the API WHEN a conflicting declaration is rolled back THEN the group stays', async () => {
    const group = `by-hand-${run}`;
    expect(
      (
        await api.request('PUT', `/subscriptions/${group}`, {
          body: { topic: `declared-${run}`, target: { type: 'lambda', function: 'billing' } },
        })
      ).status,
    ).toBe(201);
    const conflicting: Declaration = {
      kind: 'subscription',
      group,
      subscription: { topic: `declared-${run}`, target: { type: 'lambda', function: 'other' } },
      removeOnDelete: true,
    };
    await expect(register(cfnEvent('Create', conflicting))).rejects.toThrow(
      /exists with another configuration/,
    );
    // CloudFormation's rollback deletes the failed resource under the id the failed creation answered with.
    await register(cfnEvent('Delete', conflicting, undefined, 'failed-create-request-id'));
    expect((await api.request('GET', `/subscriptions/${group}`)).body.target).toEqual({
      type: 'lambda',
      function: 'billing',
    });
  });

  test('GIVEN removeOnDelete false WHEN the declaration is deleted THEN the subscription stays', async () => {
    await register(cfnEvent('Delete', subscription(10), undefined, `subscription:declared-group-${run}`));
    expect((await api.request('GET', `/subscriptions/declared-group-${run}`)).status).toBe(200);
  });

  test('GIVEN removeOnDelete true WHEN deleted THEN the subscription and the topic are gone', async () => {
    await register(
      cfnEvent('Delete', subscription(10, true), undefined, `subscription:declared-group-${run}`),
    );
    expect((await api.request('GET', `/subscriptions/declared-group-${run}`)).status).toBe(404);
    await register(cfnEvent('Delete', topic(), undefined, `topic:declared-${run}`));
    expect((await api.request('GET', `/topics/declared-${run}`)).status).toBe(404);
  });

  test('GIVEN an IAM grant WHEN applied THEN a request signed by that role may publish on matching topics only', async () => {
    await register(cfnEvent('Create', topic()));
    await register(
      cfnEvent('Create', {
        kind: 'iam-grant',
        role: `Checkout-${run}`,
        acl: [{ topics: 'declared-*', permissions: ['publish'] }],
        removeOnDelete: true,
      }),
    );
    const caller = `arn:aws:sts::123456789012:assumed-role/Checkout-${run}/checkout-fn`;
    const principal = await api.bus.authorizer.authenticateIam(caller);
    expect(() => api.bus.authorizer.authorize(principal, 'publish', `declared-${run}`)).not.toThrow();
    expect(() => api.bus.authorizer.authorize(principal, 'publish', 'payments')).toThrow(/may not publish/);
    expect(() => api.bus.authorizer.authorize(principal, 'read', `declared-${run}`)).toThrow(/may not read/);
    await expect(
      api.bus.authorizer.authenticateIam('arn:aws:sts::123456789012:assumed-role/Stranger/x'),
    ).rejects.toThrow(/no grant on this bus/);

    // Through the API as an AWS_IAM Function URL calls it: IAM's verified caller, no bearer key.
    const handler = createApiHandler(api.bus, DEFAULT_LIMITS, new Logger({ logLevel: 'SILENT' }));
    const signed = (method: string, rawPath: string, userArn: string, body?: unknown) =>
      handler(
        {
          version: '2.0',
          rawPath,
          rawQueryString: '',
          headers: { 'content-type': 'application/json', authorization: 'AWS4-HMAC-SHA256 Credential=…' },
          body: body === undefined ? undefined : JSON.stringify(body),
          isBase64Encoded: false,
          requestContext: {
            http: { method, path: rawPath },
            requestId: randomUUID(),
            authorizer: { iam: { userArn } },
          },
        } as never,
        {} as never,
      ) as Promise<{ statusCode: number; body: string }>;
    const published = await signed('POST', `/topics/declared-${run}/events`, caller, {
      events: [{ value: 1 }],
    });
    expect(published.statusCode).toBe(200);
    expect((await signed('GET', `/topics/declared-${run}/partitions/0/events`, caller)).statusCode).toBe(403);
    const stranger = 'arn:aws:sts::123456789012:assumed-role/Stranger/x';
    expect(
      (await signed('POST', `/topics/declared-${run}/events`, stranger, { events: [{ value: 1 }] }))
        .statusCode,
    ).toBe(401);
  });
});

describe('the registrar applies declared schemas and routes (against DynamoDB Local and s3rver)', () => {
  // Every group of this describe starts with this prefix, so only its deliverers run them.
  const run = `routed-${randomUUID().slice(0, 6)}`;
  let harness: DeliveryHarness;
  let api: TestApi;
  let register: ReturnType<typeof createRegistrarHandler>;
  const V1 = { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] };
  // BACKWARD: the new version must accept what v1 accepted; without "required" it accepts more.
  const V2 = { type: 'object', properties: V1.properties };
  const orders = (schema?: unknown, compatibility?: 'BACKWARD' | 'FULL'): Declaration => ({
    kind: 'topic',
    topic: { name: `${run}-orders`, partitions: 2, retentionHours: 48 },
    ...(schema === undefined ? {} : { schema }),
    ...(compatibility === undefined ? {} : { compatibility }),
    removeOnDelete: true,
  });
  const ordersId = `topic:${run}-orders`;
  const schemaOf = (topic: string) => api.request('GET', `/topics/${topic}/schema`);

  beforeAll(async () => {
    harness = startDelivery((cursor) => cursor.startsWith(run));
    api = await startTestApi(undefined, {
      env: { ...process.env, ...DELIVERY_TEST_ENV },
      waker: harness.waker,
    });
    register = createRegistrarHandler(harness.core, async () => 'unused');
  });
  afterAll(async () => {
    await harness.stop();
    await api.close();
  });

  test('GIVEN a topic declared with a schema WHEN created THEN the schema is its version 1, with its mode', async () => {
    await register(cfnEvent('Create', orders(V1, 'BACKWARD')));
    const latest = await schemaOf(`${run}-orders`);
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({ version: 1, schema: V1, compatibility: 'BACKWARD' });
  });

  test('GIVEN the same schema WHEN deployed again (keys in another order) THEN no version is added', async () => {
    const reordered = { required: ['total'], properties: V1.properties, type: 'object' };
    await register(cfnEvent('Update', orders(reordered, 'BACKWARD'), orders(V1, 'BACKWARD'), ordersId));
    const versions = await api.request('GET', `/topics/${run}-orders/schema/versions`);
    expect(versions.body.versions.map((v: { version: number }) => v.version)).toEqual([1]);
  });

  test('fails when a deployment declares an incompatible schema, naming the topic and the reasons; the schema stays', async () => {
    // Requiring a field v1 did not have: events v1 accepted would be refused.
    const incompatible = { ...V1, required: ['total', 'currency'] };
    const failure = register(cfnEvent('Update', orders(incompatible), orders(V1, 'BACKWARD'), ordersId));
    await expect(failure).rejects.toThrow(
      new RegExp(`^Topic "${run}-orders": The schema breaks the topic's compatibility: /required`),
    );
    expect((await schemaOf(`${run}-orders`)).body).toMatchObject({ version: 1, schema: V1 });
  });

  test('GIVEN a compatible change deployed WHEN the deployment rolls back THEN the rollback succeeds and adds no version', async () => {
    await register(cfnEvent('Update', orders(V2), orders(V1, 'BACKWARD'), ordersId));
    expect((await schemaOf(`${run}-orders`)).body).toMatchObject({ version: 2, schema: V2 });
    // CloudFormation's rollback: the old declaration applied over the new one.
    await register(cfnEvent('Update', orders(V1, 'BACKWARD'), orders(V2), ordersId));
    const versions = await api.request('GET', `/topics/${run}-orders/schema/versions`);
    expect(versions.body.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    expect((await schemaOf(`${run}-orders`)).body).toMatchObject({ version: 2 });
  });

  test('GIVEN a declared route WHEN events are published THEN matching ones are appended to its target topic, re-keyed', async () => {
    // GIVEN the target topic and a route into it, declared as the construct orders them
    const big: Declaration = {
      kind: 'topic',
      topic: { name: `${run}-big`, partitions: 1, retentionHours: 48 },
      removeOnDelete: true,
    };
    await register(cfnEvent('Create', big));
    await register(
      cfnEvent('Create', {
        kind: 'subscription',
        group: `${run}-big-route`,
        subscription: {
          topic: `${run}-orders`,
          target: { type: 'topic', topic: `${run}-big`, key: 'value.customer' },
          filter: { value: { total: [{ numeric: ['>', 100] }] } },
          transform: { jsonata: '{"customer": value.customer, "total": value.total}' },
        },
        removeOnDelete: true,
      }),
    );
    // WHEN orders are published
    const published = await api.request('POST', `/topics/${run}-orders/events`, {
      body: {
        events: [
          { key: 'o-1', value: { total: 50, customer: 'ada' } },
          { key: 'o-2', value: { total: 150, customer: 'bob', note: 'gift' } },
        ],
      },
    });
    expect(published.status).toBe(200);
    // THEN only the big order is in the target topic, once, reshaped and keyed by customer
    let events: { key: string; value: unknown }[] = [];
    for (let i = 0; i < 400 && events.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      events = (await api.request('GET', `/topics/${run}-big/partitions/0/events?offset=0`)).body.events;
    }
    expect(events.map(({ key, value }) => ({ key, value }))).toEqual([
      { key: 'bob', value: { customer: 'bob', total: 150 } },
    ]);
  });

  test('GIVEN a declared route THEN a route made through the API that would close a circle with it is refused', async () => {
    const back = await api.request('PUT', `/subscriptions/${run}-back`, {
      body: { topic: `${run}-big`, target: { type: 'topic', topic: `${run}-orders` } },
    });
    expect(back.status).toBe(400);
    expect(back.body.error.code).toBe('ROUTE_CYCLE');
  });
});
