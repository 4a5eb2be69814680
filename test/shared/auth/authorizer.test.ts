import { Authorizer, type Principal } from '../../../shared/auth/authorizer';
import type { KeyStore, StoredApiKey } from '../../../shared/auth/key-store';
import { ForbiddenError, UnauthorizedError } from '../../../shared/errors';

const ADMIN_KEY = 'unit-admin-key-0123456789';

/** The port's contract in memory, shared by every "instance" as the registry table would be. */
class MemoryKeyStore implements KeyStore {
  readonly items = new Map<string, StoredApiKey>();
  finds = 0;
  async create(key: StoredApiKey) {
    if (this.items.has(key.id)) return false;
    this.items.set(key.id, key);
    return true;
  }
  async find(id: string) {
    this.finds++;
    return this.items.get(id);
  }
  async list() {
    return [...this.items.values()];
  }
  async delete(id: string) {
    return this.items.delete(id);
  }
}

const bearer = (key: string) => `Bearer ${key}`;

describe('Authorizer: authentication', () => {
  let store: MemoryKeyStore;
  let clock: number;
  let authorizer: Authorizer;
  beforeEach(() => {
    store = new MemoryKeyStore();
    clock = Date.parse('2026-01-01T00:00:00Z');
    authorizer = new Authorizer(ADMIN_KEY, { keyStore: store, now: () => clock });
  });

  test('the admin key is the admin principal', async () => {
    expect(await authorizer.authenticate(bearer(ADMIN_KEY))).toEqual({ id: 'admin', admin: true, acl: [] });
  });

  test('an API key authenticates as its id with its ACL, and only its digest is stored', async () => {
    const acl = [{ topics: 'orders*', permissions: ['publish' as const] }];
    const { id, key } = await authorizer.createKey({ acl, description: 'shop' });
    expect(key).toMatch(/^eb_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}$/);
    expect(await authorizer.authenticate(bearer(key))).toEqual({ id, admin: false, acl });
    const stored = store.items.get(id) as StoredApiKey;
    expect(JSON.stringify(stored)).not.toContain(key.slice(16));
    expect(stored.createdAt).toBe('2026-01-01T00:00:00.000Z');
  });

  test.each([
    ['no header', undefined],
    ['not a bearer', 'Basic abc'],
    ['an unknown string', bearer('not-a-key-at-all-0000')],
    ['a well-formed key that was never created', bearer(`eb_${'a'.repeat(12)}_${'b'.repeat(43)}`)],
  ])('fails %s with UNAUTHORIZED', async (_name, header) => {
    await expect(authorizer.authenticate(header)).rejects.toThrow(UnauthorizedError);
  });

  test('fails a key whose id exists but whose secret is wrong', async () => {
    const { key } = await authorizer.createKey({ acl: [{ topics: '*', permissions: ['read'] }] });
    const forged = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    await expect(authorizer.authenticate(bearer(forged))).rejects.toThrow('The API key is not valid');
  });

  test('a key deleted here fails at once, although it was cached', async () => {
    const { id, key } = await authorizer.createKey({ acl: [{ topics: '*', permissions: ['read'] }] });
    await authorizer.authenticate(bearer(key));
    expect(await authorizer.deleteKey(id)).toBe(true);
    await expect(authorizer.authenticate(bearer(key))).rejects.toThrow(UnauthorizedError);
    expect(await authorizer.deleteKey(id)).toBe(false);
  });

  test('a key deleted on another instance works here until 60 s after it was read, then fails', async () => {
    // GIVEN a second instance that has authenticated the key
    const other = new Authorizer(ADMIN_KEY, { keyStore: store, now: () => clock });
    const { id, key } = await authorizer.createKey({ acl: [{ topics: '*', permissions: ['read'] }] });
    await other.authenticate(bearer(key));
    // WHEN the key is deleted on the first instance
    clock += 10_000;
    await authorizer.deleteKey(id);
    // THEN the second instance serves it from its cache for the rest of the 60 s, and then not
    clock += 49_999;
    await expect(other.authenticate(bearer(key))).resolves.toMatchObject({ id });
    clock += 1;
    await expect(other.authenticate(bearer(key))).rejects.toThrow(UnauthorizedError);
  });

  test('a key is read from the store once per minute, not once per request', async () => {
    const { key } = await authorizer.createKey({ acl: [{ topics: '*', permissions: ['read'] }] });
    for (let i = 0; i < 5; i++) await authorizer.authenticate(bearer(key));
    expect(store.finds).toBe(1);
  });

  test('without a key store only the admin key is accepted', async () => {
    const adminOnly = new Authorizer(ADMIN_KEY);
    await expect(adminOnly.authenticate(bearer(ADMIN_KEY))).resolves.toMatchObject({ admin: true });
    await expect(adminOnly.authenticate(bearer(`eb_${'a'.repeat(12)}_${'b'.repeat(43)}`))).rejects.toThrow(
      UnauthorizedError,
    );
  });

  test('listing keys shows neither keys nor hashes, oldest first', async () => {
    const first = await authorizer.createKey({
      acl: [{ topics: 'a', permissions: ['read'] }],
      description: 'one',
    });
    clock += 1;
    const second = await authorizer.createKey({ acl: [{ topics: 'b', permissions: ['publish'] }] });
    const keys = await authorizer.listKeys();
    expect(keys).toEqual([
      {
        id: first.id,
        acl: [{ topics: 'a', permissions: ['read'] }],
        description: 'one',
        createdAt: expect.any(String),
      },
      {
        id: second.id,
        acl: [{ topics: 'b', permissions: ['publish'] }],
        description: null,
        createdAt: expect.any(String),
      },
    ]);
  });
});

describe('Authorizer: authorization', () => {
  const authorizer = new Authorizer(ADMIN_KEY);
  const admin: Principal = { id: 'admin', admin: true, acl: [] };
  const key = (acl: Principal['acl']): Principal => ({ id: 'k', admin: false, acl });
  const shop = key([
    { topics: 'orders*', permissions: ['publish'] },
    { topics: 'catalog', permissions: ['admin'] },
  ]);

  test('the admin key may do anything, anywhere', () => {
    for (const permission of ['publish', 'read', 'admin'] as const) {
      expect(() => authorizer.authorize(admin, permission, 'x')).not.toThrow();
      expect(() => authorizer.authorize(admin, permission)).not.toThrow();
    }
    expect(() => authorizer.authorizeKeyManagement(admin)).not.toThrow();
  });

  test('a key may do what a matching entry grants, and admin includes publish and read', () => {
    expect(() => authorizer.authorize(shop, 'publish', 'orders.eu')).not.toThrow();
    expect(() => authorizer.authorize(shop, 'read', 'catalog')).not.toThrow();
    expect(() => authorizer.authorize(shop, 'publish', 'catalog')).not.toThrow();
    expect(() => authorizer.authorize(shop, 'admin', 'catalog')).not.toThrow();
  });

  test('fails with FORBIDDEN naming the permission, the topic and the ACL', () => {
    expect(() => authorizer.authorize(shop, 'read', 'orders')).toThrow(ForbiddenError);
    expect(() => authorizer.authorize(shop, 'publish', 'payments')).toThrow(
      'This key may not publish on topic "payments": no ACL entry whose pattern matches "payments" grants "publish" ' +
        '(or "admin"). Its ACL: orders* (publish); catalog (admin).',
    );
  });

  test('without a topic, a key needs the permission on some pattern', () => {
    expect(() => authorizer.authorize(shop, 'read')).not.toThrow(); // through admin on catalog
    const publisher = key([{ topics: 'orders*', permissions: ['publish'] }]);
    expect(() => authorizer.authorize(publisher, 'read')).toThrow('This key may not read on any topic');
  });

  test('managing keys needs admin on "*"', () => {
    expect(() =>
      authorizer.authorizeKeyManagement(key([{ topics: '*', permissions: ['admin'] }])),
    ).not.toThrow();
    expect(() => authorizer.authorizeKeyManagement(shop)).toThrow(
      /needs the admin key or a key with "admin" on topics "\*"/,
    );
    expect(() =>
      authorizer.authorizeKeyManagement(key([{ topics: '*', permissions: ['publish', 'read'] }])),
    ).toThrow(ForbiddenError);
  });
});
