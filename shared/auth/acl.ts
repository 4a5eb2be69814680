import { isValidName } from '../names';

/** What a key may do on a topic. `admin` includes `publish` and `read` on the same topics. */
export const PERMISSIONS = ['publish', 'read', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * One ACL entry: `permissions` on every topic whose name matches the pattern
 * `topics`. A pattern is made of name characters (`A-Z a-z 0-9 . _ -`), which
 * match themselves (case-sensitively), and `*`, which matches any run of name
 * characters, the empty run included: `orders*` matches `orders` and
 * `orders.eu`, `*.dlq` every dead-letter topic, `*` every topic.
 */
export interface AclEntry {
  readonly topics: string;
  readonly permissions: readonly Permission[];
}

/** `^[A-Za-z0-9._*-]{1,200}$`: a topic name in which `*` stands for any run of name characters. */
export const TOPIC_PATTERN = /^[A-Za-z0-9._*-]{1,200}$/;

/**
 * Whether `topic` matches the glob `pattern`. Linear in practice and never
 * worse than O(pattern × topic), unlike a backtracking regular expression,
 * so a pattern such as `a*a*a*a*b` cannot stall a request.
 *
 * @example
 * topicPatternMatches('orders*', 'orders.eu'); // true
 * topicPatternMatches('orders*', 'payments'); // false
 */
export function topicPatternMatches(pattern: string, topic: string): boolean {
  if (!isValidName(topic)) return false;
  let p = 0;
  let t = 0;
  // Where the last `*` was seen, and the topic position it has swallowed up to.
  let star = -1;
  let swallowed = 0;
  while (t < topic.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      swallowed = t;
    } else if (p < pattern.length && pattern[p] === topic[t]) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++swallowed;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Whether the entry grants `permission` on the topics it covers (`admin` implies the others). */
export function entryGrants(entry: AclEntry, permission: Permission): boolean {
  return entry.permissions.includes(permission) || entry.permissions.includes('admin');
}

/**
 * Whether `acl` grants `permission` on `topic`.
 *
 * @example
 * const acl = [{ topics: 'orders*', permissions: ['publish'] }];
 * aclGrants(acl, 'publish', 'orders.eu'); // true
 * aclGrants(acl, 'read', 'orders.eu'); // false
 */
export function aclGrants(acl: readonly AclEntry[], permission: Permission, topic: string): boolean {
  return acl.some((entry) => entryGrants(entry, permission) && topicPatternMatches(entry.topics, topic));
}

/** Whether `acl` grants `permission` on every topic there is or will be: a pattern of only `*`. */
export function aclGrantsOnEveryTopic(acl: readonly AclEntry[], permission: Permission): boolean {
  return acl.some((entry) => entryGrants(entry, permission) && /^\*+$/.test(entry.topics));
}

/** Whether `acl` grants `permission` on at least one pattern. */
export function aclGrantsOnSomeTopic(acl: readonly AclEntry[], permission: Permission): boolean {
  return acl.some((entry) => entryGrants(entry, permission));
}

/** The ACL for an error message: `orders* (publish, read); *.dlq (read)`. */
export function describeAcl(acl: readonly AclEntry[]): string {
  if (acl.length === 0) return '(nothing)';
  return acl.map((entry) => `${entry.topics} (${entry.permissions.join(', ')})`).join('; ');
}
