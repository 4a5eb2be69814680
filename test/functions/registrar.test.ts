import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createApiHandler } from '../../functions/api/handler';
import { createRegistrarHandler } from '../../functions/registrar/handler';
import { DEFAULT_LIMITS } from '../../shared/publish/limits';
import type { Declaration } from '../../shared/registry/declarations';
import { startTestApi, type TestApi } from '../support/api';

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
