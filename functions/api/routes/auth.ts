import type { Permission, Principal } from '../../../shared/auth/authorizer';
import type { Bus } from '../../../shared/bus';
import { type HttpEvent, header } from '../http';

/** Authenticates the request's bearer key and checks it may do `permission` (on `topic`). */
export async function authenticate(
  bus: Bus,
  event: HttpEvent,
  permission: Permission,
  topic?: string,
): Promise<Principal> {
  const principal = await bus.authorizer.authenticate(header(event, 'authorization'));
  bus.authorizer.authorize(principal, permission, topic);
  return principal;
}
