import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { Authorizer } from '../../../shared/auth/authorizer';
import { DynamoKeyStore } from '../../../shared/auth/dynamo-key-store';
import { ADMIN_KEY, startTestApi, type TestApi } from '../../support/api';
import { documentClient, uniqueTopic } from '../../support/aws';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

async function createKey(acl: unknown, description?: string): Promise<{ id: string; key: string }> {
  const res = await api.request('POST', '/keys', { body: { acl, ...(description ? { description } : {}) } });
  expect(res.status).toBe(201);
  return res.body;
}

async function createTopic(prefix: string): Promise<string> {
  const topic = uniqueTopic(prefix);
  expect(
    (await api.request('PUT', `/topics/${topic}`, { body: { partitions: 1, retentionHours: 24 } })).status,
  ).toBe(201);
  return topic;
}

async function endOffset(topic: string): Promise<number> {
  return (await api.request('GET', `/topics/${topic}`)).body.partitions[0].endOffset;
}

const publish = (topic: string, key: string) =>
  api.request('POST', `/topics/${topic}/events`, { body: { events: [{ value: 1 }] }, key });

describe('API keys', () => {
  test('a key publishes on topics its pattern matches and gets 403 FORBIDDEN elsewhere, changing nothing', async () => {
    // GIVEN a key that may publish and read on "<prefix>*"
    const orders = await createTopic('orders');
    const other = await createTopic('payments');
    const { key } = await createKey([
      { topics: `${orders.slice(0, 10)}*`, permissions: ['publish', 'read'] },
    ]);

    // WHEN it publishes on a matching topic THEN the event is committed
    const ok = await publish(orders, key);
    expect(ok.status).toBe(200);
    expect(await endOffset(orders)).toBe(1);

    // WHEN it publishes elsewhere THEN 403 says what is missing, and nothing is appended
    const denied = await publish(other, key);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');
    expect(denied.body.error.message).toContain(`may not publish on topic "${other}"`);
    expect(await endOffset(other)).toBe(0);

    // AND it reads the matching topic
    const read = await api.request('GET', `/topics/${orders}/partitions/0/events?offset=0`, { key });
    expect(read.status).toBe(200);
    expect(read.body.events).toHaveLength(1);
  });

  test('a key without read permission cannot read, and one without admin cannot create topics', async () => {
    const topic = await createTopic('wo');
    const { key } = await createKey([{ topics: topic, permissions: ['publish'] }]);
    expect((await publish(topic, key)).status).toBe(200);

    const read = await api.request('GET', `/topics/${topic}/partitions/0/events?offset=0`, { key });
    expect(read.status).toBe(403);
    expect(read.body.error.message).toContain(`may not read on topic "${topic}"`);
    expect((await api.request('GET', `/topics/${topic}`, { key })).status).toBe(403);
    expect((await api.request('GET', '/topics', { key })).status).toBe(403);

    const put = await api.request('PUT', `/topics/${topic}-new`, {
      body: { partitions: 1, retentionHours: 24 },
      key,
    });
    expect(put.status).toBe(403);
    expect(put.body.error.message).toContain('may not admin');
  });

  test('admin on a pattern creates topics under it and may publish and read them', async () => {
    const prefix = uniqueTopic('team');
    const { key } = await createKey([{ topics: `${prefix}.*`, permissions: ['admin'] }]);
    const topic = `${prefix}.events`;
    expect(
      (await api.request('PUT', `/topics/${topic}`, { body: { partitions: 1, retentionHours: 24 }, key }))
        .status,
    ).toBe(201);
    expect((await publish(topic, key)).status).toBe(200);
    expect((await api.request('GET', `/topics/${topic}/partitions/0/events?offset=0`, { key })).status).toBe(
      200,
    );
    const listed = await api.request('GET', '/topics', { key });
    expect(listed.status).toBe(200);
    // Only the topics this key may read are listed.
    expect(listed.body.topics.map((t: { name: string }) => t.name)).toEqual([topic]);
  });

  test('the key list shows ids, ACLs, descriptions and creation times, never a key or its hash', async () => {
    const acl = [{ topics: 'list-*', permissions: ['read'] }];
    const { id, key } = await createKey(acl, 'for the list');
    const res = await api.request('GET', '/keys');
    expect(res.status).toBe(200);
    expect(res.body.keys).toContainEqual({
      id,
      acl,
      description: 'for the list',
      createdAt: expect.any(String),
    });
    for (const listed of res.body.keys)
      expect(Object.keys(listed).sort()).toEqual(['acl', 'createdAt', 'description', 'id']);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(16));
  });

  test('the stored item holds a SHA-256 digest, not the key', async () => {
    const { id, key } = await createKey([{ topics: 'stored', permissions: ['read'] }]);
    const { Item } = await documentClient().send(
      new GetCommand({
        TableName: api.bus.config.registryTable,
        Key: { pk: 'apikey', sk: id },
        ConsistentRead: true,
      }),
    );
    expect(Item).toBeDefined();
    const text = JSON.stringify(Item);
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(16)); // the secret part
    expect(Buffer.from(Item?.keyHash, 'base64')).toHaveLength(32);
  });

  test('a deleted key fails at once with 401; deleting it again is 404', async () => {
    const topic = await createTopic('del');
    const { id, key } = await createKey([{ topics: topic, permissions: ['publish'] }]);
    expect((await publish(topic, key)).status).toBe(200); // now cached

    expect((await api.request('DELETE', `/keys/${id}`)).status).toBe(204);
    const after = await publish(topic, key);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('UNAUTHORIZED');
    expect((await api.request('GET', '/keys')).body.keys.map((k: { id: string }) => k.id)).not.toContain(id);

    const again = await api.request('DELETE', `/keys/${id}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('NOT_FOUND');
    expect((await api.request('DELETE', '/keys/no-such-key')).status).toBe(404);
  });

  test('a key cached by another instance stops working there once 60 s have passed on its clock', async () => {
    // GIVEN another "Lambda instance" over the same registry table, which has used the key
    let clock = Date.now();
    const other = new Authorizer(ADMIN_KEY, {
      keyStore: new DynamoKeyStore(documentClient(), api.bus.config.registryTable),
      now: () => clock,
    });
    const { id, key } = await createKey([{ topics: 'elsewhere', permissions: ['read'] }]);
    await expect(other.authenticate(`Bearer ${key}`)).resolves.toMatchObject({ id, admin: false });

    // WHEN the key is deleted through the API
    expect((await api.request('DELETE', `/keys/${id}`)).status).toBe(204);

    // THEN the other instance may go on trusting its cache for under 60 s, and not a moment longer
    clock += 59_000;
    await expect(other.authenticate(`Bearer ${key}`)).resolves.toMatchObject({ id });
    clock += 1_000;
    await expect(other.authenticate(`Bearer ${key}`)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  test('a key created on one instance works at once on another that has just been asked for it', async () => {
    const second = await startTestApi();
    try {
      const topic = await createTopic('fresh');
      // The second instance has just failed this id, which must not be remembered.
      const unknown = await second.request('POST', `/topics/${topic}/events`, {
        body: { events: [{ value: 1 }] },
        key: `eb_${'z'.repeat(12)}_${'y'.repeat(43)}`,
      });
      expect(unknown.status).toBe(401);
      const { key } = await createKey([{ topics: topic, permissions: ['publish'] }]);
      const res = await second.request('POST', `/topics/${topic}/events`, {
        body: { events: [{ value: 1 }] },
        key,
      });
      expect(res.status).toBe(200);
    } finally {
      await second.close();
    }
  });

  test('managing keys needs the admin key or admin on "*"', async () => {
    const { key: topicAdmin } = await createKey([
      { topics: 'orders*', permissions: ['admin', 'publish', 'read'] },
    ]);
    const body = { acl: [{ topics: '*', permissions: ['admin'] }] };
    for (const [method, path] of [
      ['POST', '/keys'],
      ['GET', '/keys'],
      ['DELETE', '/keys/abcdefghijkl'],
    ]) {
      const res = await api.request(method, path, {
        body: method === 'POST' ? body : undefined,
        key: topicAdmin,
      });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
      expect(res.body.error.message).toContain(
        'Managing API keys needs the admin key or a key with "admin" on topics "*"',
      );
    }
    expect((await api.request('GET', '/keys', { key: null })).status).toBe(401);

    const { key: superKey } = await createKey([{ topics: '*', permissions: ['admin'] }]);
    const created = await api.request('POST', '/keys', {
      body: { acl: [{ topics: 'x', permissions: ['read'] }] },
      key: superKey,
    });
    expect(created.status).toBe(201);
    expect((await api.request('DELETE', `/keys/${created.body.id}`, { key: superKey })).status).toBe(204);
  });

  test.each([
    ['bad JSON', '{"acl": ['],
    ['an unknown field', { acl: [{ topics: 'a', permissions: ['read'] }], expiresAt: 1 }],
    ['an empty acl', { acl: [] }],
    ['acl not an array', { acl: { topics: 'a', permissions: ['read'] } }],
    ['an unknown entry field', { acl: [{ topics: 'a', permissions: ['read'], partitions: [0] }] }],
    ['a pattern with a slash', { acl: [{ topics: 'a/b', permissions: ['read'] }] }],
    ['an unknown permission', { acl: [{ topics: 'a', permissions: ['write'] }] }],
    ['empty permissions', { acl: [{ topics: 'a', permissions: [] }] }],
    ['a long description', { acl: [{ topics: 'a', permissions: ['read'] }], description: 'd'.repeat(257) }],
  ])('fails to create a key from %s: 400 INVALID_REQUEST, no key stored', async (_name, body) => {
    const res = await api.request('POST', '/keys', { body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_REQUEST');
    expect(res.body.error.message.length).toBeGreaterThan(10);
    // Only these cases use the patterns "a" and "a/b" (other test files may create keys meanwhile).
    const keys: { acl: { topics: string }[] }[] = (await api.request('GET', '/keys')).body.keys;
    expect(keys.filter((k) => k.acl.some((e) => e.topics === 'a' || e.topics === 'a/b'))).toEqual([]);
  });
});
