import { DynamoKeyStore } from '../../../shared/auth/dynamo-key-store';
import type { StoredApiKey } from '../../../shared/auth/key-store';
import { documentClient, testConfig } from '../../support/aws';

const store = new DynamoKeyStore(documentClient(), testConfig().registryTable);
const unique = () => Math.random().toString(36).slice(2, 14).padEnd(12, '0');
const key = (id: string, extra: Partial<StoredApiKey> = {}): StoredApiKey => ({
  id,
  keyHash: Buffer.alloc(32, 7).toString('base64'),
  acl: [{ topics: 'orders*', permissions: ['publish', 'read'] }],
  createdAt: '2026-01-01T00:00:00.000Z',
  ...extra,
});

describe('DynamoKeyStore', () => {
  test('a key is stored, found, listed and deleted', async () => {
    const id = unique();
    expect(await store.create(key(id, { description: 'shop' }))).toBe(true);
    expect(await store.find(id)).toEqual(key(id, { description: 'shop' }));
    expect(await store.list()).toContainEqual(key(id, { description: 'shop' }));
    expect(await store.delete(id)).toBe(true);
    expect(await store.find(id)).toBeUndefined();
  });

  test('fails to create a key over another with the same id, leaving the first as it was', async () => {
    const id = unique();
    await store.create(key(id));
    expect(await store.create(key(id, { acl: [{ topics: '*', permissions: ['admin'] }] }))).toBe(false);
    expect((await store.find(id))?.acl).toEqual(key(id).acl);
  });

  test('deleting a key that does not exist answers false', async () => {
    expect(await store.delete(unique())).toBe(false);
  });
});
