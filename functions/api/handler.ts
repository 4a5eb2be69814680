import { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import httpRouter from '@middy/http-router';
import { adminKeySource } from '../../shared/auth/admin-key';
import { type Bus, createBus } from '../../shared/bus';
import { busMetrics } from '../../shared/observability/metrics';
import { limitsFromEnv, type PublishLimits } from '../../shared/publish/limits';
import type { HttpEvent, HttpResult } from './http';
import { accessLog } from './middleware/access-log';
import { errorResponse, toErrorResult } from './middleware/error-response';
import { publishEvents, readEvents } from './routes/events';
import { health } from './routes/health';
import { createKey, deleteKey, listKeys } from './routes/keys';
import {
  deleteSubscription,
  describeSubscription,
  listSubscriptions,
  putSubscription,
  redriveDeadLetters,
  resetOffsets,
} from './routes/subscriptions';
import { describeTopic, listTopics, putTopic } from './routes/topics';

type Route = (event: HttpEvent) => Promise<HttpResult>;

/**
 * The HTTP API (API.md) as one Lambda handler taking Function URL events
 * (payload format 2.0). Local mode serves the very same handler.
 */
export function createApiHandler(
  bus: Bus,
  limits: PublishLimits,
  logger = new Logger({ serviceName: 'eventbus' }),
) {
  const routes: { method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE'; path: string; handler: Route }[] = [
    { method: 'GET', path: '/health', handler: () => health(bus) },
    { method: 'HEAD', path: '/health', handler: () => health(bus) },
    { method: 'GET', path: '/topics', handler: (e) => listTopics(bus, e) },
    { method: 'PUT', path: '/topics/{topic}', handler: (e) => putTopic(bus, e) },
    { method: 'GET', path: '/topics/{topic}', handler: (e) => describeTopic(bus, e) },
    { method: 'POST', path: '/topics/{topic}/events', handler: (e) => publishEvents(bus, limits, e) },
    {
      method: 'GET',
      path: '/topics/{topic}/partitions/{partition}/events',
      handler: (e) => readEvents(bus, e),
    },
    { method: 'GET', path: '/subscriptions', handler: (e) => listSubscriptions(bus, e) },
    { method: 'PUT', path: '/subscriptions/{group}', handler: (e) => putSubscription(bus, e) },
    { method: 'GET', path: '/subscriptions/{group}', handler: (e) => describeSubscription(bus, e) },
    { method: 'DELETE', path: '/subscriptions/{group}', handler: (e) => deleteSubscription(bus, e) },
    { method: 'POST', path: '/subscriptions/{group}/offsets', handler: (e) => resetOffsets(bus, e) },
    { method: 'POST', path: '/subscriptions/{group}/redrive', handler: (e) => redriveDeadLetters(bus, e) },
    { method: 'POST', path: '/keys', handler: (e) => createKey(bus, e) },
    { method: 'GET', path: '/keys', handler: (e) => listKeys(bus, e) },
    { method: 'DELETE', path: '/keys/{id}', handler: (e) => deleteKey(bus, e) },
  ];
  return middy<HttpEvent, HttpResult>()
    .use(accessLog(logger))
    .use(errorResponse())
    .handler(httpRouter(routes) as unknown as (event: HttpEvent) => Promise<HttpResult>);
}

/** Routes anyone may call: everything else needs a key. */
const PUBLIC_ROUTES = new Set(['GET /health', 'HEAD /health']);

/**
 * Checks a request's key from its headers alone, before its body is read
 * (local mode's Function URL server calls it; on AWS the Function URL has
 * buffered the body already). The routes check again with the key's ACL.
 */
export function screenRequest(bus: Bus) {
  return async (request: { method: string; path: string; headers: Record<string, string> }) => {
    if (PUBLIC_ROUTES.has(`${request.method} ${request.path}`)) return undefined;
    try {
      await bus.authorizer.authenticate(request.headers.authorization);
      return undefined;
    } catch (error) {
      return toErrorResult(error);
    }
  };
}

let api: ((event: HttpEvent, context: unknown) => Promise<HttpResult>) | undefined;

/**
 * The Lambda entry point: wires the bus from the environment on the first
 * request. The admin key is read from Secrets Manager when a request needs
 * it, cached with a maximum age; a failed read fails that request only.
 */
export const handler = async (event: HttpEvent, context: unknown): Promise<HttpResult> => {
  api ??= createApiHandler(createBus({ adminKey: adminKeySource() }), limitsFromEnv()) as never;
  try {
    return await (api as NonNullable<typeof api>)(event, context);
  } finally {
    busMetrics.flush();
  }
};
