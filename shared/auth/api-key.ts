import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * An API key is `eb_<id>_<secret>`: a 12-character id (9 random bytes) and a
 * 43-character secret (32 random bytes), both base64url. Both parts have a
 * fixed length, so the key parses without ambiguity although base64url
 * contains `_`. The id names the stored key; only a SHA-256 digest of the
 * whole key is stored. A plain hash suffices because the secret has 256
 * random bits: there is nothing to guess a dictionary for.
 */
const API_KEY = /^eb_([A-Za-z0-9_-]{12})_[A-Za-z0-9_-]{43}$/;
const API_KEY_ID = /^[A-Za-z0-9_-]{12}$/;

/**
 * A fresh key and its id.
 *
 * @example
 * const { id, key } = newApiKey(); // key: "eb_3q2-7wAbCdEf_…"
 */
export function newApiKey(): { id: string; key: string } {
  const id = randomBytes(9).toString('base64url');
  return { id, key: `eb_${id}_${randomBytes(32).toString('base64url')}` };
}

/** The id inside a presented key, or undefined when it does not have the form of an API key. */
export function apiKeyId(key: string): string | undefined {
  return API_KEY.exec(key)?.[1];
}

export function isApiKeyId(id: string): boolean {
  return API_KEY_ID.test(id);
}

/** SHA-256 of a key: what is stored, and what a presented key is compared as. */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Compares two digests in constant time; a stored digest of the wrong length never matches. */
export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
