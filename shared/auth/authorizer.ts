import { ForbiddenError, UnauthorizedError } from '../errors';
import {
  type AclEntry,
  aclGrants,
  aclGrantsOnEveryTopic,
  aclGrantsOnSomeTopic,
  describeAcl,
  type Permission,
} from './acl';
import { apiKeyId, digestsEqual, isApiKeyId, keyDigest, newApiKey } from './api-key';
import { ApiKeyCache } from './api-key-cache';
import { type IamGrants, roleOfCaller } from './iam-grants';
import type { KeyStore, StoredApiKey } from './key-store';
import { type NewApiKey, validateNewApiKey } from './new-api-key';

export type { AclEntry, Permission } from './acl';

/** Who made a request. */
export interface Principal {
  /** `admin` for the admin key, else the API key's id. */
  readonly id: string;
  /** The admin key, which may do everything. */
  readonly admin: boolean;
  /** What an API key may do; empty for the admin key, which needs none. */
  readonly acl: readonly AclEntry[];
}

/** An API key as `GET /keys` shows it: never its hash. */
export interface ApiKeyView {
  readonly id: string;
  readonly acl: readonly AclEntry[];
  readonly description: string | null;
  readonly createdAt: string;
}

export interface AuthorizerOptions {
  /** Where API keys are kept. @default none: only the admin key is accepted */
  readonly keyStore?: KeyStore;
  /** The clock for the key cache, in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** How long a key read from the store is trusted, at most 60 s. @default 60_000 */
  readonly cacheTtlMs?: number;
  /** Keys cached at most. @default 10_000 */
  readonly cacheMaxEntries?: number;
  /** What IAM roles may do, for SigV4-signed requests (`urlAuthType: AWS_IAM`). @default none */
  readonly iamGrants?: IamGrants;
}

/**
 * Authenticates `Authorization: Bearer <key>` and checks what the key may do.
 *
 * - The admin key may do everything. Keys are compared as SHA-256 digests in
 *   constant time, so neither a key's length nor its prefix leaks through timing.
 * - An API key (`eb_<id>_<secret>`) is looked up by its id and its digest
 *   compared with the stored one. Keys found are cached for at most 60 s, so a
 *   key deleted on another instance stops working here within 60 s; one
 *   deleted here stops at once. A miss is never cached.
 * - An ACL entry grants its permissions on the topics its pattern matches;
 *   `admin` implies `publish` and `read`.
 * - Without a topic (`GET /topics`), a key needs the permission on some pattern.
 * - Managing keys needs the admin key or `admin` on `*`: whoever creates keys
 *   can give themselves any permission, so only a principal that has every
 *   permission already may.
 *
 * @example
 * const authorizer = new Authorizer(adminKey, { keyStore: new DynamoKeyStore(dynamo, table) });
 * const principal = await authorizer.authenticate('Bearer eb_…');
 * authorizer.authorize(principal, 'publish', 'orders'); // throws FORBIDDEN unless allowed
 */
export class Authorizer {
  private readonly adminKey: () => Promise<string>;
  private admin?: { key: string; digest: Buffer };
  private readonly keyStore?: KeyStore;
  private readonly iamGrants?: IamGrants;
  private readonly cache: ApiKeyCache;
  private readonly now: () => number;

  /** `adminKey` is the key, or where to read it: a source is asked on every request, so it can be rotated. */
  constructor(adminKey: string | (() => Promise<string>), options: AuthorizerOptions = {}) {
    if (typeof adminKey === 'string') checkAdminKey(adminKey);
    this.adminKey = typeof adminKey === 'string' ? async () => adminKey : adminKey;
    this.keyStore = options.keyStore;
    this.iamGrants = options.iamGrants;
    this.now = options.now ?? Date.now;
    this.cache = new ApiKeyCache({
      ttlMs: options.cacheTtlMs,
      maxEntries: options.cacheMaxEntries,
      now: this.now,
    });
  }

  /** The principal behind an `Authorization` header; throws UNAUTHORIZED for a missing, unknown or deleted key. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw new UnauthorizedError();
    const presented = match[1];
    const digest = keyDigest(presented);
    if (digestsEqual(digest, await this.adminDigest())) return { id: 'admin', admin: true, acl: [] };
    const id = apiKeyId(presented);
    const store = this.keyStore;
    if (id !== undefined && store) {
      const stored = await this.cache.lookup(id, () => store.find(id));
      if (stored && digestsEqual(digest, Buffer.from(stored.keyHash, 'base64'))) {
        return { id, admin: false, acl: stored.acl };
      }
    }
    throw new UnauthorizedError('The API key is not valid: it is unknown, mistyped, or was deleted.');
  }

  /**
   * The principal behind a request IAM has authenticated (a Function URL with AWS_IAM auth): its role, with
   * what `grantPublish` registered for it; UNAUTHORIZED when the role has no grant on this bus.
   */
  async authenticateIam(callerArn: string): Promise<Principal> {
    const role = roleOfCaller(callerArn);
    const acl = role && this.iamGrants ? await this.iamGrants.aclOf(role) : [];
    if (!role || acl.length === 0) {
      throw new UnauthorizedError(
        `The caller ${callerArn} has no grant on this bus: grant its role with bus.grantPublish(…).`,
      );
    }
    return { id: `iam:${role}`, admin: false, acl };
  }

  /** The current admin key's digest, computed again only when the key changed. */
  private async adminDigest(): Promise<Buffer> {
    const key = await this.adminKey();
    if (this.admin?.key !== key) {
      checkAdminKey(key);
      this.admin = { key, digest: keyDigest(key) };
    }
    return this.admin.digest;
  }

  /**
   * Throws FORBIDDEN unless `principal` may do `permission` on `topic`, or,
   * without a topic, on at least one topic pattern.
   */
  authorize(principal: Principal, permission: Permission, topic?: string): void {
    if (principal.admin) return;
    if (topic === undefined) {
      if (aclGrantsOnSomeTopic(principal.acl, permission)) return;
      throw new ForbiddenError(
        `This key may not ${permission} on any topic: no ACL entry grants "${permission}" (or "admin"). ` +
          `Its ACL: ${describeAcl(principal.acl)}.`,
      );
    }
    if (aclGrants(principal.acl, permission, topic)) return;
    throw new ForbiddenError(
      `This key may not ${permission} on topic "${topic}": no ACL entry whose pattern matches "${topic}" ` +
        `grants "${permission}" (or "admin"). Its ACL: ${describeAcl(principal.acl)}.`,
    );
  }

  /** Throws FORBIDDEN unless `principal` may create, list and delete API keys: the admin key, or `admin` on `*`. */
  authorizeKeyManagement(principal: Principal): void {
    if (principal.admin || aclGrantsOnEveryTopic(principal.acl, 'admin')) return;
    throw new ForbiddenError(
      `Managing API keys needs the admin key or a key with "admin" on topics "*". ` +
        `This key's ACL: ${describeAcl(principal.acl)}.`,
    );
  }

  /** Creates an API key. The key is returned only here; the store keeps its digest. */
  async createKey(request: NewApiKey): Promise<{ id: string; key: string }> {
    const { acl, description } = validateNewApiKey(request);
    const store = this.requireKeyStore();
    // An id clash (72 random bits) is next to impossible; a fresh id resolves it.
    for (let attempt = 1; ; attempt++) {
      const { id, key } = newApiKey();
      const created = await store.create({
        id,
        keyHash: keyDigest(key).toString('base64'),
        acl,
        ...(description === undefined ? {} : { description }),
        createdAt: new Date(this.now()).toISOString(),
      });
      if (created) return { id, key };
      if (attempt === 3)
        throw new Error('Three fresh API key ids in a row were taken; the random source is broken.');
    }
  }

  /** Every API key, oldest first, without its hash. */
  async listKeys(): Promise<ApiKeyView[]> {
    const keys = await this.requireKeyStore().list();
    return keys
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
      .map(toView);
  }

  /** Deletes an API key; it stops working in this process at once. False when there was no such key. */
  async deleteKey(id: string): Promise<boolean> {
    if (!isApiKeyId(id)) return false;
    try {
      return await this.requireKeyStore().delete(id);
    } finally {
      // After the delete, so a lookup that read the key before it cannot cache it again.
      this.cache.evict(id);
    }
  }

  private requireKeyStore(): KeyStore {
    if (!this.keyStore) throw new Error('This Authorizer has no key store: only the admin key is accepted.');
    return this.keyStore;
  }
}

function toView(key: StoredApiKey): ApiKeyView {
  return { id: key.id, acl: key.acl, description: key.description ?? null, createdAt: key.createdAt };
}

function checkAdminKey(key: string): void {
  if (key.length < 16) throw new Error('The admin key must be at least 16 characters long.');
}
