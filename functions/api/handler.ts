import type { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import httpRouter from '@middy/http-router';
import { adminKeySource } from '../../shared/auth/admin-key';
import { type Bus, createBus } from '../../shared/bus';
import { settingFromEnv } from '../../shared/config';
import { createLogger } from '../../shared/observability/logger';
import { limitsFromEnv, type PublishLimits } from '../../shared/publish/limits';
import { consoleMiddleware, isConsolePath } from './console';
import { routeContext } from './contract/route';
import { serveRoute } from './contract/serve-route';
import type { HttpEvent, HttpResult } from './http';
import { accessLog } from './middleware/access-log';
import { errorResponse, toErrorResult } from './middleware/error-response';
import { API_ROUTES } from './routes';

/**
 * The HTTP API (docs/api.md) as one Lambda handler taking Function URL events
 * (payload format 2.0). Local mode serves the very same handler. Requests
 * are logged as `accessLog` says: every one, or only the 5xx ones; left
 * out, `EVENTBUS_ACCESS_LOG` decides (off by default).
 */
export function createApiHandler(
  bus: Bus,
  limits: PublishLimits,
  logger: Logger = createLogger(),
  { accessLog: everyRequest = settingFromEnv('accessLog') }: { accessLog?: boolean } = {},
) {
  const context = routeContext(bus, limits);
  const routes = API_ROUTES.map((route) => ({
    method: route.method,
    path: route.path,
    handler: serveRoute(route, context),
  }));
  return middy<HttpEvent, HttpResult>()
    .use(accessLog(logger, { everyRequest }))
    .use(errorResponse())
    .use(consoleMiddleware())
    .handler(httpRouter(routes) as unknown as (event: HttpEvent) => Promise<HttpResult>);
}

/** `GET /health`, `HEAD /health`, `GET /openapi.json`: the routes anyone may call. */
const PUBLIC_ROUTES = new Set(
  API_ROUTES.filter((route) => route.access === 'public').map((route) => `${route.method} ${route.path}`),
);

/**
 * Checks a request's key from its headers alone, before its body is read
 * (local mode's Function URL server calls it; on AWS the Function URL has
 * buffered the body already). The route checks again, with its declared access.
 */
export function screenRequest(bus: Bus) {
  return async (request: { method: string; path: string; headers: Record<string, string> }) => {
    if (PUBLIC_ROUTES.has(`${request.method} ${request.path}`) || isConsolePath(request.path))
      return undefined;
    try {
      // Only the key: what it may do depends on the route, checked with the request in full.
      await bus.authorizer.authenticate(lowerCased(request.headers).authorization);
      return undefined;
    } catch (error) {
      return toErrorResult(error);
    }
  };
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  const lower: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value;
  return lower;
}

let api: ((event: HttpEvent, context: unknown) => Promise<HttpResult>) | undefined;
let bus: Bus | undefined;

/**
 * The Lambda entry point: wires the bus from the environment on the first
 * request. The admin key is read from Secrets Manager when a request needs
 * it, cached with a maximum age; a failed read fails that request only.
 */
export const handler = async (event: HttpEvent, context: unknown): Promise<HttpResult> => {
  bus ??= createBus({ adminKey: adminKeySource() });
  api ??= createApiHandler(bus, limitsFromEnv()) as never;
  try {
    return await (api as NonNullable<typeof api>)(event, context);
  } finally {
    // Not Powertools' logMetrics, which writes a line per request: a busy instance writes one a second.
    bus.metrics.flushIfDue();
  }
};
