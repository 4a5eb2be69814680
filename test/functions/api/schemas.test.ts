import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createApiHandler } from '../../../functions/api/handler';
import { createBus } from '../../../shared/bus';
import { DEFAULT_LIMITS } from '../../../shared/publish/limits';
import { ADMIN_KEY, startTestApi, type TestApi } from '../../support/api';
import { uniqueTopic } from '../../support/aws';

let api: TestApi;
let topic: string;
let group: string;
beforeAll(async () => {
  api = await startTestApi(undefined, { waker: { wake: async () => {} } });
  topic = uniqueTopic('schemas');
  group = uniqueTopic('schemas-group');
  await api.request('PUT', `/topics/${topic}`, { body: { partitions: 2, retentionHours: 24 } });
  await api.request('PUT', `/subscriptions/${group}`, {
    body: { topic, target: { type: 'lambda', function: 'schemas' } },
  });
});
afterAll(() => api.close());

const MARKER = uniqueTopic('proto-marker');

/** What the refused requests below could have changed: only this file touches these names. */
async function state(names: string[]) {
  const keys = (await api.request('GET', '/keys')).body.keys as { description: string | null }[];
  return {
    created: await Promise.all(
      names.map(async (name) => (await api.request('GET', `/topics/${name}`)).status),
    ),
    subscriptions: await Promise.all(
      names.map(async (name) => (await api.request('GET', `/subscriptions/${name}`)).status),
    ),
    marked: keys.filter((key) => key.description === MARKER).length,
    group: (await api.request('GET', `/subscriptions/${group}`)).body,
  };
}

describe('request schemas refuse members named __proto__, at every level, changing nothing', () => {
  const cases: [string, (name: string) => [string, string, string]][] = [
    [
      'a topic whose config sits only under __proto__',
      (name) => ['PUT', `/topics/${name}`, '{"__proto__":{"partitions":1,"retentionHours":24}}'],
    ],
    [
      'a topic with a __proto__ beside its config',
      (name) => ['PUT', `/topics/${name}`, '{"partitions":1,"retentionHours":24,"__proto__":{}}'],
    ],
    [
      'a key whose acl sits only under __proto__',
      () => [
        'POST',
        '/keys',
        `{"description":"${MARKER}","__proto__":{"acl":[{"topics":"*","permissions":["admin"]}]}}`,
      ],
    ],
    [
      'an ACL entry whose pattern sits under __proto__',
      () => [
        'POST',
        '/keys',
        `{"description":"${MARKER}","acl":[{"permissions":["read"],"__proto__":{"topics":"*"}}]}`,
      ],
    ],
    [
      'a subscription whose target sits under __proto__',
      (name) => [
        'PUT',
        `/subscriptions/${name}`,
        `{"topic":"${topic}","__proto__":{"target":{"type":"lambda","function":"f"}}}`,
      ],
    ],
    [
      'a lambda target whose function sits under __proto__',
      (name) => [
        'PUT',
        `/subscriptions/${name}`,
        `{"topic":"${topic}","target":{"type":"lambda","__proto__":{"function":"f"}}}`,
      ],
    ],
    [
      'offsets under __proto__',
      () => ['POST', `/subscriptions/${group}/offsets`, '{"to":{"offsets":{"0":0,"__proto__":1}}}'],
    ],
    [
      'a reset target under __proto__',
      () => ['POST', `/subscriptions/${group}/offsets`, '{"__proto__":{"to":"earliest"}}'],
    ],
  ];

  test.each(cases)('fails %s with 400 INVALID_REQUEST', async (_name, build) => {
    const name = uniqueTopic('proto');
    const before = await state([name]);
    const [method, path, body] = build(name);
    const res = await api.request(method, path, { body });
    expect([res.status, res.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(res.body.error.message).toContain('"__proto__"');
    expect(await state([name])).toEqual(before);
    expect(before.created).toEqual([404]);
  });
});

describe('schema messages say what to fix', () => {
  const cases: [string, () => string, unknown, string][] = [
    [
      'PUT',
      () => `/topics/${uniqueTopic()}`,
      { partitions: 1, retention: 24 },
      'Unknown field(s) "retention" in the body; it takes "partitions", "retentionHours".',
    ],
    [
      'PUT',
      () => `/topics/${uniqueTopic()}`,
      { partitions: 0, retentionHours: 24 },
      '"partitions" must be an integer from 1 to 256.',
    ],
    [
      'PUT',
      () => `/topics/${uniqueTopic()}`,
      [1],
      'The body must be an object: {"partitions": 1..256, "retentionHours": >=24}.',
    ],
    [
      'POST',
      () => '/keys',
      { acl: [{ topics: 'a', permission: ['read'] }] },
      'Unknown field(s) "permission" in "acl[0]"; it takes "topics", "permissions".',
    ],
    [
      'POST',
      () => '/keys',
      { acl: [{ topics: 'a', permissions: ['read', 'write'] }] },
      '"acl[0].permissions" holds "write"; use "publish", "read" or "admin".',
    ],
    [
      'POST',
      () => '/keys',
      { acl: [{ topics: 'a', permissions: ['read', 'read'] }] },
      '"acl[0].permissions" names a permission twice.',
    ],
    [
      'PUT',
      () => `/subscriptions/${uniqueTopic()}`,
      { topic: 'x', target: { type: 'sqs' } },
      '"target.type" must be "lambda", "webhook" or "topic".',
    ],
    [
      'PUT',
      () => `/subscriptions/${uniqueTopic()}`,
      { topic: 'x', target: { type: 'lambda', function: 'f' }, batchSize: 1001 },
      '"batchSize" must be an integer from 1 to 1000.',
    ],
    [
      'POST',
      () => `/subscriptions/${group}/offsets`,
      { to: 'yesterday' },
      'The body must be {"to": "earliest" | "latest"',
    ],
  ];
  test.each(cases)('%s %#', async (method, path, body, message) => {
    const res = await api.request(method, path(), { body });
    expect([res.status, res.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(res.body.error.message).toContain(message);
  });

  test('a query parameter out of range names itself and the range', async () => {
    const res = await api.request('GET', `/topics/${topic}/partitions/0/events?offset=0&limit=0`);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(
      'Query parameter "limit" must be an integer from 1 to 1000, got "0".',
    );
  });
});

describe('the request is parsed once, at the edge', () => {
  const handler = createApiHandler(
    createBus({ adminKey: ADMIN_KEY }),
    DEFAULT_LIMITS,
    new Logger({ logLevel: 'SILENT' }),
  );
  const event = (headers: Record<string, string>, body: string): APIGatewayProxyEventV2 =>
    ({
      version: '2.0',
      rawPath: `/topics/${topic}/events`,
      rawQueryString: '',
      headers,
      body,
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: `/topics/${topic}/events` } },
    }) as unknown as APIGatewayProxyEventV2;

  test('header names are matched whatever their case (other callers than Function URLs may not lower-case them)', async () => {
    const result = await handler(
      event(
        {
          Authorization: `Bearer ${ADMIN_KEY}`,
          'Content-Type': 'application/json',
          'Idempotency-Key': 'x'.repeat(256),
        },
        '{"events":[{"value":1}]}',
      ),
      {} as never,
    );
    // The Idempotency-Key was read, whatever its case: too long, refused.
    expect(result.statusCode).toBe(400);
    expect(result.body).toContain('Idempotency-Key must be 1 to 255 characters.');
  });

  test('a binary-mode CloudEvent with a header named ce-__proto__ is an extension like any other, refused by name', async () => {
    const result = await handler(
      event(
        {
          authorization: `Bearer ${ADMIN_KEY}`,
          'content-type': 'text/plain',
          'ce-specversion': '1.0',
          'ce-id': '1',
          'ce-source': '/s',
          'ce-type': 't',
          'ce-__proto__': 'x',
        },
        'hello',
      ),
      {} as never,
    );
    expect(result.statusCode).toBe(400);
    expect(result.body).toContain('is not a valid extension');
  });
});
