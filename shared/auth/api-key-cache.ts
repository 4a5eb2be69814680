import { LRUCache } from 'lru-cache';
import type { StoredApiKey } from './key-store';

export interface ApiKeyCacheOptions {
  /** How long a looked-up key is trusted without reading it again. @default 60_000 (docs/api.md: at most 60 s) */
  readonly ttlMs?: number;
  /** Entries kept at most; the least recently used goes first. @default 10_000 */
  readonly maxEntries?: number;
  /** The clock, in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

/** The longest a deleted key may go on working on another instance (docs/api.md, Keys). */
export const MAX_KEY_CACHE_MS = 60_000;

/**
 * Stored API keys by id, as one process has read them. Only keys that were
 * found are kept: a miss may be a key created a moment ago on another
 * instance. An entry's age counts from *before* the read that filled it, so
 * a key deleted while that read was in flight is still dropped within
 * `ttlMs` of its deletion. `lru-cache` bounds the entries and drops the least
 * recently used; freshness is checked here, since an entry must also go stale
 * when the clock goes backwards, which lru-cache's TTL does not do.
 *
 * @example
 * const cache = new ApiKeyCache({ now: () => clock });
 * const key = await cache.lookup(id, () => store.find(id));
 */
export class ApiKeyCache {
  private readonly entries: LRUCache<string, { key: StoredApiKey; readAt: number }>;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  /** Bumped by every eviction, so a read that started before one does not put back what it evicted. */
  private evictions = 0;

  constructor(options: ApiKeyCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? MAX_KEY_CACHE_MS;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
    if (!(this.ttlMs >= 0 && this.ttlMs <= MAX_KEY_CACHE_MS)) {
      throw new Error(
        `ttlMs must be from 0 to ${MAX_KEY_CACHE_MS}: a deleted key must stop working within 60 s.`,
      );
    }
    if (!(Number.isInteger(this.maxEntries) && this.maxEntries >= 1))
      throw new Error('maxEntries must be at least 1.');
    this.entries = new LRUCache({ max: this.maxEntries });
  }

  /** The key with `id`: from the cache while fresh, otherwise from `load`, which is cached when it finds one. */
  async lookup(id: string, load: () => Promise<StoredApiKey | undefined>): Promise<StoredApiKey | undefined> {
    const cached = this.entries.get(id); // now the most recently used
    if (cached) {
      const age = this.now() - cached.readAt;
      if (age >= 0 && age < this.ttlMs) return cached.key;
      this.entries.delete(id);
    }
    const evictions = this.evictions;
    const readAt = this.now();
    const key = await load();
    if (key && evictions === this.evictions) this.entries.set(id, { key, readAt });
    return key;
  }

  /** Forgets `id` at once (the key was deleted here), including any read of it now in flight. */
  evict(id: string): void {
    this.entries.delete(id);
    this.evictions++;
  }

  get size(): number {
    return this.entries.size;
  }
}
