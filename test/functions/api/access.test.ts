import { apiDocument } from '../../../functions/api/routes';
import { startTestApi, type TestApi } from '../../support/api';
import { uniqueTopic } from '../../support/aws';
import { documentedOperations, exampleBody, fillPath, type OpenApi, type Operation } from './support/walk';

const document = apiDocument() as unknown as OpenApi;
const operations = documentedOperations(document);
const guarded = operations.filter((operation) => !operation.access.public);

let api: TestApi;
let values: Record<string, string>;
const keys: Record<string, string> = {};

/** A key with every permission that does not imply the one needed, on every topic: it must not be enough. */
function lesserPermissions(permission: 'publish' | 'read' | 'admin'): string[] {
  return { publish: ['read'], read: ['publish'], admin: ['publish', 'read'] }[permission];
}

beforeAll(async () => {
  api = await startTestApi();
  // GIVEN a topic, a subscription and a key for the routes that name them
  const topic = uniqueTopic('access');
  const group = uniqueTopic('access-group');
  expect(
    (await api.request('PUT', `/topics/${topic}`, { body: { partitions: 1, retentionHours: 24 } })).status,
  ).toBe(201);
  expect(
    (
      await api.request('PUT', `/subscriptions/${group}`, {
        body: { topic, target: { type: 'lambda', function: 'access-test' } },
      })
    ).status,
  ).toBe(201);
  const created = await api.request('POST', '/keys', {
    body: { acl: [{ topics: topic, permissions: ['read'] }] },
  });
  values = { topic, group, partition: '0', id: created.body.id, version: '1' };
  for (const permission of ['publish', 'read', 'admin'] as const) {
    const res = await api.request('POST', '/keys', {
      body: { acl: [{ topics: '*', permissions: lesserPermissions(permission) }] },
    });
    keys[permission] = res.body.key;
  }
  keys.elsewhere = (
    await api.request('POST', '/keys', { body: { acl: [{ topics: 'elsewhere-*', permissions: ['admin'] }] } })
  ).body.key;
});
afterAll(() => api.close());

/** The request an operation's documented example makes, with the given key. */
function call(operation: Operation, key: string | null) {
  const type = operation.requestTypes[0];
  let body = type ? exampleBody(document, operation, type) : undefined;
  // The subscription example names topic "orders"; the fixture's topic exists.
  if (body && typeof body === 'object' && 'topic' in body) body = { ...body, topic: values.topic };
  const query = operation.operationId === 'readEvents' ? '?offset=0' : '';
  return api.request(operation.method, fillPath(operation.path, values) + query, {
    key,
    ...(body !== undefined ? { body } : {}),
    ...(type ? { headers: { 'content-type': type } } : {}),
  });
}

describe('every route refuses the keys its declared access does not admit', () => {
  test('only /health and /openapi.json are declared public', () => {
    expect(
      operations
        .filter((operation) => operation.access.public)
        .map((operation) => `${operation.method} ${operation.path}`)
        .sort(),
    ).toEqual(['GET /health', 'GET /openapi.json', 'HEAD /health']);
    for (const operation of guarded) {
      expect(operation.access.permission).toMatch(/^(publish|read|admin)$/);
      expect(operation.access.resource).toMatch(/^(\{topic\}|\{group\}|some-topic|\*)$/);
    }
  });

  test.each(guarded.map((operation) => [`${operation.method} ${operation.path}`, operation] as const))(
    'fails %s without a key, with a wrong key and with an insufficient one, changing nothing',
    async (_name, operation) => {
      const before = (await api.request('GET', `/topics/${values.topic}`)).body;

      const missing = await call(operation, null);
      expect([missing.status, missing.body?.error?.code]).toEqual([401, 'UNAUTHORIZED']);

      const wrong = await call(operation, 'not-a-key-of-this-bus');
      expect([wrong.status, wrong.body?.error?.code]).toEqual([401, 'UNAUTHORIZED']);
      const forged = await call(operation, `eb_${'z'.repeat(12)}_${'y'.repeat(43)}`);
      expect([forged.status, forged.body?.error?.code]).toEqual([401, 'UNAUTHORIZED']);

      const permission = operation.access.permission as 'publish' | 'read' | 'admin';
      const lesser = await call(operation, keys[permission]);
      expect([lesser.status, lesser.body?.error?.code]).toEqual([403, 'FORBIDDEN']);
      expect(lesser.body.error.message).toMatch(/may not|needs the admin key/);

      // Every permission, on names that are not this route's resource.
      if (operation.access.resource !== 'some-topic') {
        const elsewhere = await call(operation, keys.elsewhere);
        expect([elsewhere.status, elsewhere.body?.error?.code]).toEqual([403, 'FORBIDDEN']);
      }

      expect((await api.request('GET', `/topics/${values.topic}`)).body).toEqual(before);
      expect((await api.request('GET', `/subscriptions/${values.group}`)).status).toBe(200);
      expect((await api.request('GET', '/keys')).body.keys.map((k: { id: string }) => k.id)).toContain(
        values.id,
      );
    },
  );

  test.each(
    operations
      .filter((operation) => operation.access.public)
      .map((o) => [`${o.method} ${o.path}`, o] as const),
  )('%s answers without a key', async (_name, operation) => {
    expect((await call(operation, null)).status).toBe(200);
  });
});
