import { InvalidRequestError } from '../errors';
import { type AclEntry, PERMISSIONS, type Permission, TOPIC_PATTERN } from './acl';

/** What `POST /keys` asks for. */
export interface NewApiKey {
  readonly acl: readonly AclEntry[];
  readonly description?: string;
}

export const MAX_ACL_ENTRIES = 100;
export const MAX_DESCRIPTION_LENGTH = 256;

const SHAPE =
  '{"acl": [{"topics": "<pattern>", "permissions": ["publish" | "read" | "admin", …]}, …], "description"?: string}';

/**
 * Checks a request for a new key strictly: an unknown field anywhere is an
 * error, not a silent default, so a typo such as `"permission"` cannot
 * produce a key that may do nothing (or more than meant). Returns a copy
 * holding only the known fields.
 *
 * @example
 * validateNewApiKey({ acl: [{ topics: 'orders*', permissions: ['publish'] }] });
 */
export function validateNewApiKey(input: unknown): NewApiKey {
  if (!isObject(input)) throw new InvalidRequestError(`The body must be an object: ${SHAPE}.`);
  rejectUnknownFields(input, ['acl', 'description'], 'the body');
  const { acl, description } = input;
  if (!Array.isArray(acl) || acl.length === 0 || acl.length > MAX_ACL_ENTRIES) {
    throw new InvalidRequestError(`"acl" must be an array of 1 to ${MAX_ACL_ENTRIES} entries: ${SHAPE}.`);
  }
  if (
    description !== undefined &&
    (typeof description !== 'string' || description.length > MAX_DESCRIPTION_LENGTH)
  ) {
    throw new InvalidRequestError(
      `"description" must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters.`,
    );
  }
  return {
    acl: acl.map((entry, index) => validateEntry(entry, `acl[${index}]`)),
    ...(description === undefined ? {} : { description }),
  };
}

function validateEntry(entry: unknown, where: string): AclEntry {
  if (!isObject(entry)) {
    throw new InvalidRequestError(
      `"${where}" must be an object: {"topics": "<pattern>", "permissions": [...]}.`,
    );
  }
  rejectUnknownFields(entry, ['topics', 'permissions'], `"${where}"`);
  const { topics, permissions } = entry;
  if (typeof topics !== 'string' || !TOPIC_PATTERN.test(topics)) {
    throw new InvalidRequestError(
      `"${where}.topics" must be a topic name pattern of 1 to 200 characters from A-Z, a-z, 0-9, ".", "_", "-" ` +
        `and "*" (any run of name characters), got ${JSON.stringify(topics)?.slice(0, 220)}.`,
    );
  }
  if (!Array.isArray(permissions) || permissions.length === 0) {
    throw new InvalidRequestError(
      `"${where}.permissions" must be a non-empty array of "publish", "read", "admin".`,
    );
  }
  for (const permission of permissions) {
    if (!(PERMISSIONS as readonly unknown[]).includes(permission)) {
      throw new InvalidRequestError(
        `"${where}.permissions" holds ${JSON.stringify(permission)?.slice(0, 60)}; use "publish", "read" or "admin".`,
      );
    }
  }
  if (new Set(permissions).size !== permissions.length) {
    throw new InvalidRequestError(`"${where}.permissions" names a permission twice.`);
  }
  return { topics, permissions: [...(permissions as Permission[])] };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rejectUnknownFields(value: Record<string, unknown>, known: readonly string[], where: string): void {
  const unknown = Object.keys(value).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new InvalidRequestError(
      `Unknown field(s) ${unknown.map((k) => `"${k.slice(0, 60)}"`).join(', ')} in ${where}; ` +
        `it takes ${known.map((k) => `"${k}"`).join(' and ')}.`,
    );
  }
}
