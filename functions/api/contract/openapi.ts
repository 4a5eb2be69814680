import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { AnyRoute, BodySpec } from './route';
import { ErrorBody } from './schemas';

/** What the API's common refusals mean, for every route that can give them. */
const COMMON_ERRORS = {
  400: 'INVALID_REQUEST: bad JSON, a body or query that does not match the schema, or an invalid name.',
  401: 'UNAUTHORIZED: no key, or a key that is unknown, mistyped or deleted.',
  403: "FORBIDDEN: the key's ACL does not grant what the route needs.",
  404: 'TOPIC_NOT_FOUND, SUBSCRIPTION_NOT_FOUND or NOT_FOUND.',
  500: 'INTERNAL_ERROR: the bus failed; the cause is in its log, never in the answer.',
} as const;

const RETRY_AFTER = {
  'retry-after': { description: 'Seconds to wait before retrying.', schema: { type: 'string' as const } },
};

/**
 * The OpenAPI 3.1 document of `routes`, generated from the schemas that
 * validate their requests, so the two cannot drift apart. docs/openapi.json
 * is this document (`npm run openapi` writes it; a test fails when it is stale).
 *
 * @example
 * const document = openApiDocument(API_ROUTES);
 * document.paths['/topics/{topic}'].put.operationId; // 'putTopic'
 */
export function openApiDocument(
  routes: readonly AnyRoute[],
): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http',
    scheme: 'bearer',
    description:
      'The admin key, or an API key (`eb_…`) from POST /keys whose ACL grants the permission the route declares.',
  });
  for (const route of routes) registry.registerPath(routeConfig(route));
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'eventbus HTTP API',
      version: '1.0.0',
      description:
        'A serverless, Kafka-model event bus. Version 1 of the API changes only by adding. See docs/api.md for the conventions.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [
      { url: 'http://127.0.0.1:4000', description: 'Local mode (npm start); on AWS, the Function URL.' },
    ],
    tags: [
      { name: 'health' },
      { name: 'contract' },
      { name: 'topics' },
      { name: 'schemas' },
      { name: 'events' },
      { name: 'subscriptions' },
      { name: 'keys' },
    ],
  });
}

function routeConfig(route: AnyRoute): RouteConfig {
  const responses: Record<string, ResponseConfig> = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    const schema = spec.schema ?? (Number(status) >= 400 ? ErrorBody : undefined);
    responses[status] = {
      description: spec.description,
      ...(schema && route.method !== 'HEAD' ? { content: { 'application/json': { schema } } } : {}),
      ...(spec.headers
        ? {
            headers: Object.fromEntries(
              Object.entries(spec.headers).map(([name, description]) => [
                name,
                { description, schema: { type: 'string' as const } },
              ]),
            ),
          }
        : {}),
    };
  }
  const refusals: (keyof typeof COMMON_ERRORS)[] = [];
  if (route.params || route.query || route.body) refusals.push(400);
  if (route.access !== 'public') refusals.push(401, 403);
  if (route.params) refusals.push(404);
  refusals.push(500);
  for (const status of refusals) {
    responses[status] ??= {
      description: COMMON_ERRORS[status],
      ...(route.method !== 'HEAD' ? { content: { 'application/json': { schema: ErrorBody } } } : {}),
    };
  }
  responses[503] ??= {
    description: 'UNAVAILABLE (or 429): storage is throttled or down; retry after `Retry-After`.',
    headers: RETRY_AFTER,
    content: { 'application/json': { schema: ErrorBody } },
  };

  const request: NonNullable<RouteConfig['request']> = {};
  if (route.params) request.params = route.params;
  if (route.query) request.query = route.query;
  if (route.headers) {
    request.headers = z.object(
      Object.fromEntries(
        Object.entries(route.headers).map(([name, description]) => [
          name,
          z.string().optional().meta({ description }),
        ]),
      ),
    );
  }
  const body = route.body as BodySpec | undefined;
  if (body) {
    const content =
      'schema' in body
        ? { 'application/json': { schema: body.schema } }
        : Object.fromEntries(
            Object.entries(body.content).map(([type, media]) => [type, { schema: media.schema }]),
          );
    request.body = {
      required: true,
      content,
      ...(body.description ? { description: body.description } : {}),
    };
  }

  const access = route.access;
  return {
    method: route.method.toLowerCase() as RouteConfig['method'],
    path: route.path,
    operationId: route.operationId,
    tags: [route.tag],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    security: access === 'public' ? [] : [{ apiKey: [] }],
    // The declared access, for clients and for the test that proves each route refuses the wrong keys.
    'x-eventbus-access':
      access === 'public'
        ? { public: true }
        : {
            permission: access.permission,
            resource: typeof access.resource === 'string' ? access.resource : `{${access.resource.param}}`,
            ...('also' in access && access.also ? { also: access.also } : {}),
          },
    request,
    responses,
  };
}
