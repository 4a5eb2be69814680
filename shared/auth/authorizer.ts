import { createHash, timingSafeEqual } from 'node:crypto';
import { ForbiddenError, UnauthorizedError } from '../errors';

export type Permission = 'publish' | 'read' | 'admin';

/** Who made a request. */
export interface Principal {
  readonly id: string;
  readonly admin: boolean;
}

/**
 * Checks `Authorization: Bearer <key>` against the admin key. Keys are
 * compared as SHA-256 digests with a constant-time comparison, so neither the
 * key's length nor its prefix leaks through timing.
 */
export class Authorizer {
  private readonly adminDigest: Buffer;

  constructor(adminKey: string) {
    if (adminKey.length < 16) throw new Error('The admin key must be at least 16 characters long.');
    this.adminDigest = digest(adminKey);
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw new UnauthorizedError();
    if (timingSafeEqual(digest(match[1]), this.adminDigest)) return { id: 'admin', admin: true };
    throw new UnauthorizedError('The API key is not valid.');
  }

  /** Throws FORBIDDEN unless `principal` may do `permission` (on `topic`, when given). */
  authorize(principal: Principal, permission: Permission, topic?: string): void {
    if (principal.admin) return;
    throw new ForbiddenError(`This key may not ${permission}${topic ? ` on topic "${topic}"` : ''}.`);
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}
