import { z } from 'zod';
import { openApiDocument } from '../contract/openapi';
import { type AnyRoute, defineRoute } from '../contract/route';
import { json } from '../http';
import { publishEvents, readEvents } from './events';
import { healthRoutes } from './health';
import { createKey, deleteKey, listKeys } from './keys';
import { testRouting } from './routing';
import { schemaRoutes } from './schemas';
import {
  deleteSubscription,
  describeSubscription,
  listSubscriptions,
  putSubscription,
  redriveDeadLetters,
  resetOffsets,
} from './subscriptions';
import { describeTopic, listTopics, putTopic } from './topics';

/** GET /openapi.json — the document of every route below, this one included; no key needed. */
const openApi = defineRoute({
  method: 'GET',
  path: '/openapi.json',
  operationId: 'openApi',
  tag: 'contract',
  summary: 'This API as an OpenAPI 3.1 document',
  description:
    'Needs no key. Generated from the schemas that validate requests; the same as docs/openapi.json.',
  access: 'public',
  responses: {
    200: {
      description: 'The OpenAPI 3.1 document.',
      schema: z.looseObject({ openapi: z.literal('3.1.0'), paths: z.record(z.string(), z.unknown()) }),
    },
  },
  handle: async () => json(200, apiDocument(), { 'cache-control': 'public, max-age=300' }),
});

/**
 * Every route the API serves: the router serves exactly these, and the document describes exactly these.
 *
 * @example
 * httpRouter(API_ROUTES.map((route) => ({ method: route.method, path: route.path, handler: serveRoute(route, context) })));
 */
export const API_ROUTES: readonly AnyRoute[] = [
  ...healthRoutes,
  openApi,
  listTopics,
  putTopic,
  describeTopic,
  ...schemaRoutes,
  publishEvents,
  readEvents,
  listSubscriptions,
  putSubscription,
  describeSubscription,
  deleteSubscription,
  resetOffsets,
  redriveDeadLetters,
  testRouting,
  createKey,
  listKeys,
  deleteKey,
];

let document: ReturnType<typeof openApiDocument> | undefined;

/**
 * The OpenAPI document of {@link API_ROUTES}, generated once per process.
 *
 * @example
 * Object.keys(apiDocument().paths); // ['/health', '/openapi.json', '/topics', …]
 */
export function apiDocument(): ReturnType<typeof openApiDocument> {
  document ??= openApiDocument(API_ROUTES);
  return document;
}
