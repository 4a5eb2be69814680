import type { Logger } from '@aws-lambda-powertools/logger';
import type middy from '@middy/core';
import { causeOf, type HttpEvent, type HttpResult } from '../http';

export interface AccessLogOptions {
  /**
   * Whether every request gets its line, or only those that fail with a 5xx. CloudWatch Logs bills each
   * line's bytes (about 300 each): at one per single-event publish, a sixth of what the publish costs.
   */
  readonly everyRequest: boolean;
}

/**
 * Logs requests once, with their outcome, as structured JSON: every request, or only the 5xx ones
 * (`everyRequest`). Errors with a 5xx are always logged, with their cause, which clients never see.
 */
export function accessLog(
  logger: Logger,
  { everyRequest }: AccessLogOptions,
): middy.MiddlewareObj<HttpEvent, HttpResult> {
  const started = new WeakMap<object, number>();
  const log = (request: middy.Request<HttpEvent, HttpResult>): void => {
    const { event, response, error } = request;
    const status = response?.statusCode ?? 500;
    if (status < 500 && !everyRequest) return;
    const entry = {
      method: event.requestContext?.http?.method,
      path: event.rawPath,
      status,
      durationMs: Date.now() - (started.get(request) ?? Date.now()),
      ...(error ? { code: (error as { code?: string }).code ?? error.name } : {}),
    };
    // Every 5xx once, with its cause: thrown, or carried by the answer (a partial 503).
    if (status >= 500)
      logger.error('request failed', { ...entry, error: error ?? causeOf(response ?? undefined) });
    else logger.info('request', entry);
  };
  return {
    before: (request) => {
      started.set(request, Date.now());
      // A caller's own correlation id is kept, so its logs and the bus's can be joined; else Lambda's request id.
      const headers = request.event.headers ?? {};
      const given = Object.entries(headers).find(([name]) => name.toLowerCase() === 'x-correlation-id')?.[1];
      logger.setCorrelationId(given?.slice(0, 200) ?? request.event.requestContext?.requestId);
    },
    after: log,
    onError: log,
  };
}
