import type { NewApiKey } from '../../../shared/auth/new-api-key';
import type { Bus } from '../../../shared/bus';
import { NotFoundError } from '../../../shared/errors';
import { type HttpEvent, type HttpResult, header, json, jsonBody, noContent, pathParam } from '../http';

/** POST /keys — 201 `{"id", "key"}`; the only time the key is shown. */
export async function createKey(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  await authenticateKeyManager(bus, event);
  const created = await bus.authorizer.createKey(jsonBody(event) as NewApiKey);
  return json(201, created, { 'cache-control': 'no-store' });
}

/** GET /keys — every key's id, ACL, description and creation time; never a key or its hash. */
export async function listKeys(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  await authenticateKeyManager(bus, event);
  return json(200, { keys: await bus.authorizer.listKeys() });
}

/** DELETE /keys/{id} — 204; the key stops working here at once, everywhere within 60 s. */
export async function deleteKey(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  await authenticateKeyManager(bus, event);
  const id = pathParam(event, 'id');
  if (!(await bus.authorizer.deleteKey(id))) {
    throw new NotFoundError(`There is no API key "${id.slice(0, 60)}"; GET /keys lists them.`);
  }
  return noContent();
}

async function authenticateKeyManager(bus: Bus, event: HttpEvent): Promise<void> {
  const principal = await bus.authorizer.authenticate(header(event, 'authorization'));
  bus.authorizer.authorizeKeyManagement(principal);
}
