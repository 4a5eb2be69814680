import type middy from '@middy/core';
import { BusError, storageOutage } from '../../../shared/errors';
import { type HttpEvent, type HttpResult, json } from '../http';

/**
 * Turns every thrown error into the API's error shape. A BusError answers
 * with its status and code; an HTTP error from middy (e.g. the router's 404)
 * with its status; anything else is a 500 whose internals stay in the log.
 */
export function errorResponse(): middy.MiddlewareObj<HttpEvent, HttpResult> {
  return {
    onError: (request) => {
      request.response = toErrorResult(request.error);
    },
  };
}

export function toErrorResult(thrown: unknown): HttpResult {
  const error = thrown instanceof BusError ? thrown : (storageOutage(thrown) ?? thrown);
  if (error instanceof BusError) {
    const headers: Record<string, string> = {};
    if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
    const message = error.expose ? error.message : 'The bus could not complete the request; retry it later.';
    return json(
      error.status,
      { error: { code: error.code, message, ...(error.expose ? error.details : {}) } },
      headers,
    );
  }
  const status = (error as { statusCode?: number } | null)?.statusCode;
  // The router also refuses events it cannot route at all (an empty path): no route for those either.
  const fromRouter =
    (error as { cause?: { package?: string } } | null)?.cause?.package === '@middy/http-router';
  if (status === 404 || fromRouter) {
    return json(404, {
      error: {
        code: 'NOT_FOUND',
        message: 'No such route; GET /openapi.json (or docs/api.md) lists the routes the bus serves.',
      },
    });
  }
  if (status === 405) {
    return json(405, {
      error: { code: 'METHOD_NOT_ALLOWED', message: 'This route does not take that method.' },
    });
  }
  return json(500, { error: { code: 'INTERNAL_ERROR', message: 'The bus failed to complete the request.' } });
}
