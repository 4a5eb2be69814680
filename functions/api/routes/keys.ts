import { NewKeyBody } from '../../../shared/auth/new-api-key';
import { NotFoundError } from '../../../shared/errors';
import { defineRoute } from '../contract/route';
import { CreatedKey, KeyList, KeyPath } from '../contract/schemas';
import { json, noContent } from '../http';

const KEY_MANAGEMENT = { permission: 'admin', resource: '*' } as const;

/** POST /keys — 201 `{"id", "key"}`; the only time the key is shown. */
export const createKey = defineRoute({
  method: 'POST',
  path: '/keys',
  operationId: 'createKey',
  tag: 'keys',
  summary: 'Create an API key',
  description: 'The key is shown only in this answer and stored only as a SHA-256 digest.',
  access: KEY_MANAGEMENT,
  body: { schema: NewKeyBody },
  responses: {
    201: { description: 'Created.', schema: CreatedKey, headers: { 'cache-control': 'no-store' } },
  },
  handle: async ({ body }, { authorizer }) => {
    const created = await authorizer.createKey(body);
    return json(201, created, { 'cache-control': 'no-store' });
  },
});

/** GET /keys — every key's id, ACL, description and creation time; never a key or its hash. */
export const listKeys = defineRoute({
  method: 'GET',
  path: '/keys',
  operationId: 'listKeys',
  tag: 'keys',
  summary: 'List API keys',
  description: "Every key's id, ACL, description and creation time, oldest first; never a key or its hash.",
  access: KEY_MANAGEMENT,
  responses: { 200: { description: 'The keys.', schema: KeyList } },
  handle: async (_input, { authorizer }) => json(200, { keys: await authorizer.listKeys() }),
});

/** DELETE /keys/{id} — 204; the key stops working here at once, everywhere within 60 s. */
export const deleteKey = defineRoute({
  method: 'DELETE',
  path: '/keys/{id}',
  operationId: 'deleteKey',
  tag: 'keys',
  summary: 'Revoke an API key',
  description: 'The key stops working at once on the instance that deleted it, and within 60 s everywhere.',
  access: KEY_MANAGEMENT,
  params: KeyPath,
  responses: {
    204: { description: 'Deleted.' },
    404: { description: 'NOT_FOUND: no such key.' },
  },
  handle: async ({ params }, { authorizer }) => {
    if (!(await authorizer.deleteKey(params.id))) {
      throw new NotFoundError(`There is no API key "${params.id.slice(0, 60)}"; GET /keys lists them.`);
    }
    return noContent();
  },
});
