import { z } from 'zod';
import { validate, where } from '../validation';
import { type AclEntry, PERMISSIONS, TOPIC_PATTERN } from './acl';

/** What `POST /keys` asks for. */
export interface NewApiKey {
  readonly acl: readonly AclEntry[];
  readonly description?: string;
}

export const MAX_ACL_ENTRIES = 100;
export const MAX_DESCRIPTION_LENGTH = 256;

const ACL_SHAPE =
  '{"acl": [{"topics": "<pattern>", "permissions": ["publish" | "read" | "admin", …]}, …], "description"?: string}';
const PATTERN_RULE =
  'a topic name pattern of 1 to 200 characters from A-Z, a-z, 0-9, ".", "_", "-" and "*" (any run of name characters)';
const ACL_RULE = `"acl" must be an array of 1 to ${MAX_ACL_ENTRIES} entries: ${ACL_SHAPE}.`;
const DESCRIPTION_RULE = `"description" must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters.`;
const permissionsRule = (path: PropertyKey[] | undefined) =>
  `"${where(path)}" must be a non-empty array of "publish", "read", "admin".`;

/** One ACL entry of a key: permissions on the topics a pattern matches. */
export const AclEntrySchema = z
  .strictObject(
    {
      topics: z
        .string({ error: (issue) => `"${where(issue.path)}" must be ${PATTERN_RULE}.` })
        .regex(TOPIC_PATTERN, {
          error: (issue) =>
            `"${where(issue.path)}" must be ${PATTERN_RULE}, got ${JSON.stringify(issue.input)?.slice(0, 220)}.`,
        })
        .meta({ example: 'orders*' }),
      permissions: z
        .array(
          z.enum(PERMISSIONS, {
            error: (issue) =>
              `"${where(issue.path?.slice(0, -1))}" holds ${JSON.stringify(issue.input)?.slice(0, 60)}; use "publish", "read" or "admin".`,
          }),
          { error: (issue) => permissionsRule(issue.path) },
        )
        .min(1, { error: (issue) => permissionsRule(issue.path) })
        .refine((permissions) => new Set(permissions).size === permissions.length, {
          error: (issue) => `"${where(issue.path)}" names a permission twice.`,
        }),
    },
    {
      error: (issue) =>
        `"${where(issue.path)}" must be an object: {"topics": "<pattern>", "permissions": [...]}.`,
    },
  )
  .meta({ id: 'AclEntry', description: '`admin` implies `publish` and `read` on the same topics.' });

/**
 * A request for a new key, checked strictly: an unknown field anywhere is an
 * error, not a silent default, so a typo such as `"permission"` cannot
 * produce a key that may do nothing (or more than meant).
 */
export const NewKeyBody = z
  .strictObject(
    {
      acl: z
        .array(AclEntrySchema, { error: ACL_RULE })
        .min(1, { error: ACL_RULE })
        .max(MAX_ACL_ENTRIES, { error: ACL_RULE }),
      description: z
        .string({ error: DESCRIPTION_RULE })
        .max(MAX_DESCRIPTION_LENGTH, { error: DESCRIPTION_RULE })
        .optional(),
    },
    { error: `The body must be an object: ${ACL_SHAPE}.` },
  )
  .meta({
    id: 'NewKeyRequest',
    example: { acl: [{ topics: 'orders*', permissions: ['publish', 'read'] }], description: 'shop' },
  });

/**
 * Checks a request for a new key with {@link NewKeyBody}; INVALID_REQUEST
 * saying what to fix otherwise. Returns a copy holding only the known fields.
 *
 * @example
 * validateNewApiKey({ acl: [{ topics: 'orders*', permissions: ['publish'] }] });
 */
export function validateNewApiKey(input: unknown): NewApiKey {
  return validate(NewKeyBody, input);
}
