import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createApiHandler } from '../../../functions/api/handler';
import { createBus } from '../../../shared/bus';
import { DEFAULT_LIMITS } from '../../../shared/publish/limits';
import { ADMIN_KEY } from '../../support/api';
import { documentClient, s3Client } from '../../support/aws';

const INTERNAL = 'connect ECONNREFUSED 10.0.0.7:8000 table=prod-registry';

function event(method: string, path: string, headers: Record<string, string> = {}): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...headers },
    isBase64Encoded: false,
    requestContext: { http: { method, path } } as APIGatewayProxyEventV2['requestContext'],
  };
}

/** A bus whose storage fails with an internal message that must never reach a client. */
/** `accessLog` left out: as deployed by default. */
function brokenApi(accessLog?: boolean) {
  const dynamo = new DynamoDBClient({});
  dynamo.middlewareStack.add(
    () => async () => {
      throw new Error(INTERNAL);
    },
    { step: 'initialize', name: 'storageDown' },
  );
  const logger = new Logger({ logLevel: 'SILENT' });
  const info = jest.spyOn(logger, 'info');
  const error = jest.spyOn(logger, 'error');
  const bus = createBus({ adminKey: ADMIN_KEY, clients: { dynamo: documentClient(dynamo), s3: s3Client() } });
  return { handler: createApiHandler(bus, DEFAULT_LIMITS, logger, { accessLog }), info, error };
}

describe('error middleware and access log', () => {
  test('a 5xx shows a generic message, never the internal one, and is logged once with its cause', async () => {
    const { handler, info, error } = brokenApi();
    const result = await handler(event('GET', '/topics'), {} as never);
    expect(result.statusCode).toBe(500);
    expect(JSON.parse(result.body ?? '')).toEqual({
      error: { code: 'INTERNAL_ERROR', message: 'The bus failed to complete the request.' },
    });
    expect(result.body).not.toContain('ECONNREFUSED');
    expect(error).toHaveBeenCalledTimes(1);
    expect(info).not.toHaveBeenCalled();
    expect(error.mock.calls[0][1]).toMatchObject({ method: 'GET', path: '/topics', status: 500 });
  });

  test('an unreachable store makes /health answer 503 with Retry-After', async () => {
    const { handler } = brokenApi();
    const result = await handler(event('GET', '/health'), {} as never);
    expect(result.statusCode).toBe(503);
    expect(result.headers?.['retry-after']).toBe('5');
    expect(result.body).not.toContain('ECONNREFUSED');
  });

  test('with the access log on, a 4xx is logged once at info with its code', async () => {
    const { handler, info, error } = brokenApi(true);
    const result = await handler(event('GET', '/topics', { authorization: 'Bearer nope' }), {} as never);
    expect(result.statusCode).toBe(401);
    expect(info).toHaveBeenCalledTimes(1);
    expect(info.mock.calls[0][1]).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(error).not.toHaveBeenCalled();
  });

  test("the access log line carries the caller's x-correlation-id, else Lambda's request id", async () => {
    const logger = new Logger({ logLevel: 'SILENT' });
    const correlationIds: unknown[] = [];
    jest.spyOn(logger, 'info').mockImplementation(() => {
      correlationIds.push(logger.getCorrelationId());
    });
    const bus = createBus({ adminKey: ADMIN_KEY });
    const handler = createApiHandler(bus, DEFAULT_LIMITS, logger, { accessLog: true });
    await handler(event('GET', '/health', { 'X-Correlation-Id': 'checkout-7781' }), {} as never);
    const withRequestId = event('GET', '/health');
    (withRequestId.requestContext as { requestId?: string }).requestId = 'lambda-request-1';
    await handler(withRequestId, {} as never);
    expect(correlationIds).toEqual(['checkout-7781', 'lambda-request-1']);
  });

  test('with the access log off (the default), only a 5xx writes a line', async () => {
    // GIVEN the API as the construct deploys it by default: no EVENTBUS_ACCESS_LOG=true
    const { handler, info, error } = brokenApi();
    // WHEN a request is refused (401) and another fails (500)
    expect(
      (await handler(event('GET', '/topics', { authorization: 'Bearer nope' }), {} as never)).statusCode,
    ).toBe(401);
    expect((await handler(event('GET', '/topics'), {} as never)).statusCode).toBe(500);
    // THEN the refusal writes nothing and the failure its one line, with its cause
    expect(info).not.toHaveBeenCalled();
    expect(error).toHaveBeenCalledTimes(1);
    expect(error.mock.calls[0][1]).toMatchObject({ path: '/topics', status: 500, error: expect.anything() });
  });
});
