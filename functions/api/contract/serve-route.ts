import { z } from 'zod';
import type { Principal } from '../../../shared/auth/authorizer';
import { InvalidRequestError } from '../../../shared/errors';
import type { HttpEvent, HttpResult } from '../http';
import { type ApiRequest, parseRequest } from '../request';
import type { Access, AnyRoute, RouteContext } from './route';
import { where } from './schemas';

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
 * const principal = await checkAccess({ bus }, { permission: 'publish', resource: { param: 'topic' } }, request, { topic: 'orders' });
 */
export async function checkAccess(
  { bus }: Pick<RouteContext, 'bus'>,
  access: Access,
  request: Pick<ApiRequest, 'headers' | 'iamCaller'>,
  params: Readonly<Record<string, string>>,
): Promise<Principal | undefined> {
  if (access === 'public') return undefined;
  // Behind an AWS_IAM Function URL, IAM verified the caller; its role's grants say what it may do here.
  const principal = request.iamCaller
    ? await bus.authorizer.authenticateIam(request.iamCaller)
    : await bus.authorizer.authenticate(request.headers.authorization);
  if (access.resource === '*') bus.authorizer.authorizeKeyManagement(principal);
  else if (access.resource === 'some-topic') bus.authorizer.authorize(principal, access.permission);
  else bus.authorizer.authorize(principal, access.permission, params[access.resource.param]);
  return principal;
}

/**
 * `input` checked against `schema`, or INVALID_REQUEST with the first problem, worded to say what to fix.
 *
 * @example
 * validate(TopicConfigBody, { partitions: 0, retentionHours: 24 }, 'body');
 * // throws INVALID_REQUEST: "partitions" must be an integer from 1 to 256.
 */
export function validate<S extends z.ZodType>(
  schema: S,
  input: unknown,
  part: 'path' | 'query' | 'body',
): z.output<S> {
  if (part === 'body') refuseProtoMembers(input, [], part);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  // A misspelt field is the likeliest cause of the other problems (the field it meant is missing): name it first.
  const { issues } = result.error;
  const first = issues.find((issue) => issue.code === 'unrecognized_keys') ?? issues[0];
  throw new InvalidRequestError(describeIssue(schema, first, part), { cause: result.error });
}

/**
 * A member named `__proto__` is never a field of a request, and zod drops
 * it silently from records (say, `to.offsets`) rather than reporting it:
 * refuse it here, at any depth, so what the client sent is never half-read.
 */
function refuseProtoMembers(value: unknown, path: PropertyKey[], part: string): void {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) refuseProtoMembers(item, [...path, index], part);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (Object.hasOwn(value, '__proto__')) {
    const place = path.length === 0 ? `the ${part}` : `"${where(path)}"`;
    throw new InvalidRequestError(
      `Unknown field(s) "__proto__" in ${place}; no request of this API takes it.`,
    );
  }
  for (const [name, member] of Object.entries(value)) refuseProtoMembers(member, [...path, name], part);
}

function describeIssue(schema: z.ZodType, issue: z.core.$ZodIssue, part: 'path' | 'query' | 'body'): string {
  if (issue.code === 'unrecognized_keys') {
    const place = issue.path.length === 0 ? `the ${part}` : `"${where(issue.path)}"`;
    const known = knownFields(schema, issue.path);
    return (
      `Unknown field(s) ${issue.keys.map((k) => JSON.stringify(k.slice(0, 60))).join(', ')} in ${place}` +
      (known.length > 0 ? `; it takes ${known.map((k) => `"${k}"`).join(', ')}.` : '.')
    );
  }
  // Messages the schemas set say what to fix on their own; zod's defaults get the place they apply to.
  if (issue.message && !/^(Invalid|Expected|Too (big|small)|Unrecognized)/.test(issue.message))
    return issue.message;
  const place = issue.path.length > 0 ? `"${where(issue.path)}"` : `The ${part}`;
  return `${place}: ${issue.message}.`;
}

/** The member names the object schema at `path` takes, for an unknown-field message. */
function knownFields(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.ZodType | undefined = schema;
  for (const part of path) {
    node = unwrap(node);
    if (node instanceof z.ZodObject) node = node.shape[String(part)] as z.ZodType | undefined;
    else if (node instanceof z.ZodArray) node = node.element as z.ZodType;
    else return [];
  }
  node = unwrap(node);
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

function unwrap(node: z.ZodType | undefined): z.ZodType | undefined {
  while (node instanceof z.ZodOptional || node instanceof z.ZodNullable) node = node.unwrap() as z.ZodType;
  return node;
}
