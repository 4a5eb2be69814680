import { ApiKeyCache } from '../../../shared/auth/api-key-cache';
import type { StoredApiKey } from '../../../shared/auth/key-store';

const key = (id: string): StoredApiKey => ({
  id,
  keyHash: 'hash',
  acl: [{ topics: '*', permissions: ['read'] }],
  createdAt: '2026-01-01T00:00:00.000Z',
});

describe('ApiKeyCache', () => {
  let clock: number;
  let loads: number;
  const load = (found: StoredApiKey | undefined) => async () => {
    loads++;
    return found;
  };
  beforeEach(() => {
    clock = 1_000_000;
    loads = 0;
  });

  test('a found key is served from the cache for less than 60 s, then read again', async () => {
    const cache = new ApiKeyCache({ now: () => clock });
    await cache.lookup('k1', load(key('k1')));
    clock += 59_999;
    expect(await cache.lookup('k1', load(undefined))).toEqual(key('k1'));
    expect(loads).toBe(1);
    clock += 1; // 60 s after the read
    expect(await cache.lookup('k1', load(undefined))).toBeUndefined();
    expect(loads).toBe(2);
  });

  test('a miss is never cached: a key created a moment later on another instance is found', async () => {
    const cache = new ApiKeyCache({ now: () => clock });
    expect(await cache.lookup('k1', load(undefined))).toBeUndefined();
    expect(await cache.lookup('k1', load(key('k1')))).toEqual(key('k1'));
    expect(loads).toBe(2);
  });

  test('an evicted key is read again at once', async () => {
    const cache = new ApiKeyCache({ now: () => clock });
    await cache.lookup('k1', load(key('k1')));
    cache.evict('k1');
    expect(await cache.lookup('k1', load(undefined))).toBeUndefined();
  });

  test('a read in flight when the key is evicted does not put it back', async () => {
    // GIVEN a lookup that has read the key but not yet returned
    const cache = new ApiKeyCache({ now: () => clock });
    let release!: () => void;
    const pending = cache.lookup('k1', () => new Promise((resolve) => (release = () => resolve(key('k1')))));
    // WHEN the key is deleted here meanwhile
    cache.evict('k1');
    release();
    await pending;
    // THEN the next lookup reads the store again
    expect(await cache.lookup('k1', load(undefined))).toBeUndefined();
  });

  test("an entry's age counts from before its read, so a slow read cannot extend it", async () => {
    const cache = new ApiKeyCache({ now: () => clock });
    await cache.lookup('k1', async () => {
      clock += 10_000; // the read took 10 s
      return key('k1');
    });
    clock += 50_000; // 60 s after the read began
    expect(await cache.lookup('k1', load(undefined))).toBeUndefined();
  });

  test('holds at most maxEntries, dropping the least recently used', async () => {
    const cache = new ApiKeyCache({ now: () => clock, maxEntries: 2 });
    await cache.lookup('a', load(key('a')));
    await cache.lookup('b', load(key('b')));
    await cache.lookup('a', load(undefined)); // a is now the most recently used
    await cache.lookup('c', load(key('c')));
    expect(cache.size).toBe(2);
    loads = 0;
    expect(await cache.lookup('a', load(undefined))).toEqual(key('a'));
    expect(await cache.lookup('b', load(undefined))).toBeUndefined();
    expect(loads).toBe(1);
  });

  test('a clock that went backwards does not make an entry live longer', async () => {
    const cache = new ApiKeyCache({ now: () => clock });
    await cache.lookup('k1', load(key('k1')));
    clock -= 1;
    expect(await cache.lookup('k1', load(undefined))).toBeUndefined();
  });

  test('fails a time to live over 60 s', () => {
    expect(() => new ApiKeyCache({ ttlMs: 60_001 })).toThrow(/within 60 s/);
  });
});
