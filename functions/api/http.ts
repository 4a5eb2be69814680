import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** A JSON answer. */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * Why an answer that is not an error thrown (a 503 naming the events that
 * could not be committed) was given: the access log writes it down, once.
 */
const causes = new WeakMap<HttpResult, unknown>();

export function withCause(result: HttpResult, cause: unknown): HttpResult {
  causes.set(result, cause);
  return result;
}

export function causeOf(result: HttpResult | undefined): unknown {
  return result ? causes.get(result) : undefined;
}

export function noContent(): HttpResult {
  return { statusCode: 204, headers: {}, body: '' };
}
