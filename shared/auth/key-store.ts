import type { AclEntry } from './acl';

/** An API key as stored: never the key itself, only its digest. */
export interface StoredApiKey {
  readonly id: string;
  /** SHA-256 of the whole key, base64. */
  readonly keyHash: string;
  readonly acl: readonly AclEntry[];
  readonly description?: string;
  /** ISO-8601. */
  readonly createdAt: string;
}

/**
 * Where API keys are kept. Reads must be strongly consistent: a key created
 * a moment ago, on any instance, must be found.
 */
export interface KeyStore {
  /** Stores a new key; false (and nothing written) when a key with its id exists already. */
  create(key: StoredApiKey): Promise<boolean>;
  find(id: string): Promise<StoredApiKey | undefined>;
  list(): Promise<StoredApiKey[]>;
  /** Deletes a key; false when there was none with that id. */
  delete(id: string): Promise<boolean>;
}
