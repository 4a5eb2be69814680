import type { z } from 'zod';
import type { Authorizer, Permission, Principal } from '../../../shared/auth/authorizer';
import { type Bus, createServices } from '../../../shared/bus';
import type { PublishLimits } from '../../../shared/publish/limits';
import type { Publisher } from '../../../shared/publish/publisher';
import { checkHealth, type HealthReport } from '../../../shared/services/health';
import type { RoutingService } from '../../../shared/services/routing';
import type { SchemaService } from '../../../shared/services/schemas';
import type { SubscriptionService } from '../../../shared/services/subscriptions';
import type { TopicService } from '../../../shared/services/topics';
import type { HttpResult } from '../http';
import type { ApiRequest, RequestBody } from '../request';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

/**
 * What a key must be allowed to do for a route, declared beside its schema
 * and checked by one middleware (functions/api/contract/serve-route.ts):
 *
 * - `{ permission, resource: { param } }`: `permission` on the topic or
 *   group named by that path parameter (groups share the ACL's name patterns);
 * - `{ permission, resource: 'some-topic' }`: `permission` on at least one
 *   pattern; the route answers only with what the key may see (the lists);
 * - `{ permission: 'admin', resource: '*' }`: `admin` on every topic there
 *   is or will be (the pattern `*`): managing keys, since whoever creates
 *   keys can give themselves anything;
 * - `'public'`: no key (`/health`, `/openapi.json`).
 */
export type Access =
  | 'public'
  | {
      readonly permission: Permission;
      readonly resource: { readonly param: 'topic' | 'group' } | 'some-topic';
      /** A check the route makes once it has read what the path names, in words for the document. */
      readonly also?: string;
    }
  | { readonly permission: 'admin'; readonly resource: '*' };

export interface ResponseSpec {
  readonly description: string;
  /** The JSON body; none for 204. */
  readonly schema?: z.ZodType;
  /** Headers the answer sets, by name, with what they mean. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * How a route's body is read:
 * - `schema`: parsed as JSON (json-text's strict parser) into null-prototype
 *   values and validated with the schema; the route gets the typed result;
 * - `raw`: the route reads the body itself (publish, whose values are stored
 *   as the exact text sent); `content` documents each media type it takes.
 */
export type BodySpec =
  | { readonly schema: z.ZodType; readonly description?: string }
  | {
      readonly raw: true;
      readonly description: string;
      readonly content: Readonly<Record<string, { readonly schema: z.ZodType; readonly example?: unknown }>>;
    };

/** What a route receives: its request checked against its schemas, and who sent it. */
export interface RouteInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly request: ApiRequest;
  /** Undefined only on public routes. */
  readonly principal: Principal;
}

/** What routes may use: the services they call, never the whole bus. */
export interface RouteContext {
  readonly authorizer: Authorizer;
  readonly publisher: Publisher;
  readonly topics: TopicService;
  readonly subscriptions: SubscriptionService;
  readonly schemas: SchemaService;
  readonly routing: RoutingService;
  readonly health: () => Promise<HealthReport>;
  readonly limits: PublishLimits;
}

/**
 * The routes' context, wired from a bus.
 *
 * @example
 * serveRoute(route, routeContext(createBus({ adminKey }), DEFAULT_LIMITS));
 */
export function routeContext(bus: Bus, limits: PublishLimits): RouteContext {
  return {
    authorizer: bus.authorizer,
    publisher: bus.publisher,
    schemas: bus.schemas,
    ...createServices(bus),
    health: () => checkHealth(bus),
    limits,
  };
}

type Infer<S> = S extends z.ZodType ? z.output<S> : Record<string, never>;
type BodyOf<B> = B extends { schema: infer S } ? Infer<S> : B extends { raw: true } ? RequestBody : undefined;

/** One route of the API: its method and path, schemas, access and answers, and what it does. */
export interface Route<
  P extends z.ZodType | undefined = z.ZodType | undefined,
  Q extends z.ZodType | undefined = z.ZodType | undefined,
  B extends BodySpec | undefined = BodySpec | undefined,
> {
  readonly method: HttpMethod;
  /** OpenAPI form: `/topics/{topic}`. */
  readonly path: string;
  readonly operationId: string;
  readonly tag: 'health' | 'contract' | 'topics' | 'schemas' | 'events' | 'subscriptions' | 'keys';
  readonly summary: string;
  readonly description?: string;
  readonly access: Access;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /** Request headers the route reads, by name, with what they mean. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The answers the route gives itself; errors every route may give are added by the document. */
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  readonly handle: (
    input: RouteInput<Infer<P>, Infer<Q>, BodyOf<B>>,
    context: RouteContext,
  ) => Promise<HttpResult>;
}

/**
 * Declares a route; only here so TypeScript infers the input types from the schemas.
 *
 * @example
 * export const describeTopic = defineRoute({
 *   method: 'GET', path: '/topics/{topic}', operationId: 'describeTopic', tag: 'topics',
 *   summary: 'Describe a topic', access: { permission: 'read', resource: { param: 'topic' } },
 *   params: TopicPath, responses: { 200: { description: 'The topic', schema: TopicDescription } },
 *   handle: async ({ params }, { topics }) => json(200, await topics.describe(params.topic)),
 * });
 */
export function defineRoute<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends BodySpec | undefined = undefined,
>(route: Route<P, Q, B>): Route<P, Q, B> {
  return route;
}

// biome-ignore lint/suspicious/noExplicitAny: a list of routes holds each with its own input types.
export type AnyRoute = Route<any, any, any>;
