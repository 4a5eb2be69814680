import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createApiHandler } from '../../../functions/api/handler';
import { createBus } from '../../../shared/bus';
import { DEFAULT_LIMITS } from '../../../shared/publish/limits';
import { ADMIN_KEY, startTestApi } from '../../support/api';
import { documentClient, s3Client, testConfig, uniqueTopic } from '../../support/aws';

/** A storage client pointed at a port nothing listens on: the service is down. */
const DOWN = 'http://127.0.0.1:9';

function request(
  method: string,
  path: string,
  body?: unknown,
  query?: Record<string, string>,
): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    queryStringParameters: query,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { http: { method, path } } as APIGatewayProxyEventV2['requestContext'],
  };
}

function apiWith(clients: { dynamo?: DynamoDBClient; s3?: S3Client }) {
  const logger = new Logger({ logLevel: 'SILENT' });
  const errors = jest.spyOn(logger, 'error');
  const bus = createBus({
    adminKey: ADMIN_KEY,
    clients: {
      dynamo: documentClient(clients.dynamo ?? new DynamoDBClient({})),
      s3: clients.s3 ?? s3Client(),
    },
  });
  return { handler: createApiHandler(bus, DEFAULT_LIMITS, logger), errors };
}

const large = { events: [{ value: 'x'.repeat(20_000) }] };

describe('a storage outage', () => {
  test('with S3 down, /health answers 503 naming it; a large publish and a read of an S3 segment answer 503 with Retry-After, never 500', async () => {
    // GIVEN a topic with an event in an S3 segment, written while S3 was up
    const api = await startTestApi();
    const topic = uniqueTopic('outage');
    await api.request('PUT', `/topics/${topic}`, { body: { partitions: 1, retentionHours: 24 } });
    expect((await api.request('POST', `/topics/${topic}/events`, { body: large })).status).toBe(200);
    await api.close();
    // WHEN S3 cannot be reached
    const { handler, errors } = apiWith({
      s3: new S3Client({ endpoint: DOWN, forcePathStyle: true, maxAttempts: 1 }),
    });
    const health = await handler(request('GET', '/health'), {} as never);
    expect(health.statusCode).toBe(503);
    expect(health.headers?.['retry-after']).toBe('5');
    expect(JSON.parse(health.body ?? '')).toMatchObject({ dependencies: { dynamodb: 'ok', s3: 'down' } });

    const publish = await handler(request('POST', `/topics/${topic}/events`, large), {} as never);
    expect(publish.statusCode).toBe(503);
    expect(publish.headers?.['retry-after']).toBeDefined();
    const read = await handler(
      request('GET', `/topics/${topic}/partitions/0/events`, undefined, { offset: '0' }),
      {} as never,
    );
    expect(read.statusCode).toBe(503);
    expect(read.headers?.['retry-after']).toBe('2');
    expect(JSON.parse(read.body ?? '').error.code).toBe('UNAVAILABLE');
    // AND each is logged once with its cause
    expect(errors.mock.calls.length).toBeGreaterThanOrEqual(2);
    expect(
      errors.mock.calls.every(([, details]) => (details as { error?: unknown }).error !== undefined),
    ).toBe(true);
  });

  test('with DynamoDB down, /health names it and a publish answers 503 with Retry-After', async () => {
    const { handler } = apiWith({ dynamo: new DynamoDBClient({ endpoint: DOWN, maxAttempts: 1 }) });
    const health = await handler(request('GET', '/health'), {} as never);
    expect(JSON.parse(health.body ?? '')).toMatchObject({ dependencies: { dynamodb: 'down', s3: 'ok' } });
    const publish = await handler(
      request('POST', '/topics/any/events', { events: [{ value: 1 }] }),
      {} as never,
    );
    expect(publish.statusCode).toBe(503);
    expect(publish.headers?.['retry-after']).toBeDefined();
  });
});

describe('s3rver', () => {
  test('lists a bucket of more than 1,000 objects to the end (its continuation tokens need the legacy OpenSSL provider)', async () => {
    const s3 = s3Client();
    const bucket = testConfig().bucket;
    const prefix = `listing-${uniqueTopic()}/`;
    for (let i = 0; i < 1_005; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: `${prefix}${String(i + j).padStart(5, '0')}`,
              Body: 'x',
            }),
          ),
        ),
      );
    }
    let listed = 0;
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      listed += page.KeyCount ?? 0;
      token = page.NextContinuationToken;
    } while (token);
    expect(listed).toBe(1_050);
  }, 120_000);
});
