import type { Principal } from '../../../shared/auth/authorizer';
import { validate } from '../../../shared/validation';
import type { HttpEvent, HttpResult } from '../http';
import { type ApiRequest, parseRequest } from '../request';
import type { Access, AnyRoute, RouteContext } from './route';

/**
 * Serves one route: the event is parsed once into a typed request, then, in
 * this order, the path is checked against the route's schema (400), the key
 * against its declared access (401, 403), the query and body against their
 * schemas (400), and only then does the route run. No route checks a key by
 * hand, so none can forget to.
 *
 * @example
 * httpRouter(routes.map((route) => ({ method: route.method, path: route.path, handler: serveRoute(route, context) })));
 */
export function serveRoute(
  route: AnyRoute,
  context: RouteContext,
): (event: HttpEvent) => Promise<HttpResult> {
  // Access on a name the path does not hold would quietly become access on no name at all.
  const { access } = route;
  if (access !== 'public' && typeof access.resource === 'object') {
    if (!route.path.includes(`{${access.resource.param}}`) || !route.params) {
      throw new Error(
        `${route.method} ${route.path} declares access on {${access.resource.param}}, which it has not.`,
      );
    }
  }
  return async (event) => {
    const request = parseRequest(event);
    const params = route.params ? validate(route.params, request.params, 'path') : {};
    const principal = await checkAccess(context, route.access, request, params as Record<string, string>);
    const query = route.query ? validate(route.query, request.query, 'query') : {};
    let body: unknown;
    if (route.body && 'schema' in route.body) body = validate(route.body.schema, request.body.json(), 'body');
    else if (route.body) body = request.body;
    return route.handle(
      { params, query, body: body as never, request, principal: principal as Principal },
      context,
    );
  };
}

/**
 * The one access check: authenticates the caller (its IAM identity or its bearer key) and checks the route's
 * declared permission on its declared resource. Undefined on public routes.
 *
 * @example
 * const principal = await checkAccess({ authorizer }, { permission: 'publish', resource: { param: 'topic' } }, request, { topic: 'orders' });
 */
export async function checkAccess(
  { authorizer }: Pick<RouteContext, 'authorizer'>,
  access: Access,
  request: Pick<ApiRequest, 'headers' | 'iamCaller'>,
  params: Readonly<Record<string, string>>,
): Promise<Principal | undefined> {
  if (access === 'public') return undefined;
  // Behind an AWS_IAM Function URL, IAM verified the caller; its role's grants say what it may do here.
  const principal = request.iamCaller
    ? await authorizer.authenticateIam(request.iamCaller)
    : await authorizer.authenticate(request.headers.authorization);
  if (access.resource === '*') authorizer.authorizeKeyManagement(principal);
  else if (access.resource === 'some-topic') authorizer.authorize(principal, access.permission);
  else authorizer.authorize(principal, access.permission, params[access.resource.param]);
  return principal;
}
