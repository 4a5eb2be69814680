import type { Permission, Principal } from '../../../shared/auth/authorizer';
import type { Bus } from '../../../shared/bus';
import { type HttpEvent, header } from '../http';

/**
 * Authenticates the request — by the IAM identity the Function URL verified (AWS_IAM auth), else by its
 * bearer key — and checks it may do `permission` (on `topic`).
 */
export async function authenticate(
  bus: Bus,
  event: HttpEvent,
  permission: Permission,
  topic?: string,
): Promise<Principal> {
  // Only Lambda sets the authorizer context: a client cannot put it in a request.
  const caller = (event.requestContext as { authorizer?: { iam?: { userArn?: string } } }).authorizer?.iam
    ?.userArn;
  const principal = caller
    ? await bus.authorizer.authenticateIam(caller)
    : await bus.authorizer.authenticate(header(event, 'authorization'));
  bus.authorizer.authorize(principal, permission, topic);
  return principal;
}
