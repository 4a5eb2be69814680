import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import fc from 'fast-check';
import { createApiHandler } from '../../../functions/api/handler';
import { createBus } from '../../../shared/bus';
import { DEFAULT_LIMITS } from '../../../shared/publish/limits';
import { ADMIN_KEY } from '../../support/api';
import { uniqueTopic } from '../../support/aws';

// Wake-ups go nowhere: a subscription the fuzzer manages to create has no deliverer to reach.
const bus = createBus({ adminKey: ADMIN_KEY, waker: { wake: async () => {} } });
const handler = createApiHandler(bus, DEFAULT_LIMITS, new Logger({ logLevel: 'SILENT' }));
const topic = uniqueTopic('fuzz');

beforeAll(() => bus.topics.create({ name: topic, partitions: 2, retentionHours: 24 }));

async function ends(): Promise<number[]> {
  return Promise.all([0, 1].map(async (p) => (await bus.log.offsets(topic, p)).endOffset));
}

const segment = fc.oneof(
  fc.constant(topic),
  fc.constantFrom('0', '1', '7', '-1', '01', '%', '%zz', '..', 'a b', '%2F', '__proto__', 'constructor'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
const path = fc.oneof(
  fc.tuple(segment).map(([t]) => `/topics/${t}/events`),
  fc.tuple(segment, segment).map(([t, p]) => `/topics/${t}/partitions/${p}/events`),
  fc.tuple(segment).map(([t]) => `/topics/${t}`),
  fc
    .tuple(segment, fc.constantFrom('', '/offsets', '/redrive'))
    .map(([g, tail]) => `/subscriptions/${g}${tail}`),
  fc.tuple(segment).map(([id]) => `/keys/${id}`),
  fc.constantFrom(
    '/topics',
    '/health',
    '/',
    '/keys',
    '//topics',
    '/topics/',
    '/subscriptions',
    '/openapi.json',
  ),
  fc.webPath(),
);
const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/cloudevents+json',
    'application/cloudevents-batch+json',
    'text/plain',
    'application/octet-stream',
    '',
  ),
  fc.string({ maxLength: 20 }),
);
const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record({ events: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }) }),
  fc.record({
    events: fc.array(
      fc.record(
        {
          key: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
          value: fc.jsonValue({ maxDepth: 2 }),
          headers: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.jsonValue({ maxDepth: 1 })),
          partition: fc.oneof(fc.integer(), fc.double(), fc.string()),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 4 },
    ),
  }),
  fc.record(
    { partitions: fc.jsonValue({ maxDepth: 1 }), retentionHours: fc.jsonValue({ maxDepth: 1 }) },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      topic: fc.oneof(fc.constant(topic), fc.string({ maxLength: 8 })),
      target: fc.oneof(
        fc.record({ type: fc.constant('lambda'), function: fc.constantFrom('f', '', 'a:b:c') }),
        fc.record({
          type: fc.constantFrom('webhook', 'sqs'),
          url: fc.constantFrom('https://example.com', 'x'),
        }),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      batchSize: fc.jsonValue({ maxDepth: 0 }),
      startFrom: fc.constantFrom('earliest', 'latest', 'now'),
    },
    { requiredKeys: [] },
  ),
  fc.record({
    to: fc.oneof(
      fc.constantFrom('earliest', 'latest', 'middle'),
      fc.record({
        timestamp: fc.oneof(
          fc.date().map((d) => d.toISOString()),
          fc.string({ maxLength: 8 }),
        ),
      }),
      fc.record({
        offsets: fc.dictionary(fc.constantFrom('0', '1', '9', '-1', 'x'), fc.jsonValue({ maxDepth: 0 })),
      }),
    ),
  }),
  fc.record(
    {
      acl: fc.array(
        fc.record(
          {
            topics: fc.constantFrom('*', 'a*', 'a/b', ''),
            permissions: fc.array(fc.constantFrom('read', 'publish', 'admin', 'write'), { maxLength: 3 }),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 2 },
      ),
      description: fc.jsonValue({ maxDepth: 0 }),
    },
    { requiredKeys: [] },
  ),
);
/** Member names that trip JavaScript objects, at any level; and repeated names, which the bus refuses. */
const trickyName = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'specversion', 'id');
const trickyJson = fc
  .tuple(
    jsonBody.map((v) => JSON.stringify(v) ?? 'null'),
    trickyName,
    fc.jsonValue({ maxDepth: 2 }),
    fc.boolean(),
  )
  .map(([text, name, value, twice]) => {
    const member = `${JSON.stringify(name)}:${JSON.stringify(value)}`;
    const members = twice ? `${member},${member}` : member;
    // Into every object of the document.
    return text.replace(/\{/g, `{${members}${text.includes('{}') ? '' : ','}`).replace(/,}/g, '}');
  });
const body = fc.oneof(
  jsonBody.map((v) => ({ text: JSON.stringify(v) ?? '', base64: false })),
  trickyJson.map((text) => ({ text, base64: false })),
  fc.string({ maxLength: 64 }).map((text) => ({ text, base64: false })),
  fc
    .uint8Array({ maxLength: 64 })
    .map((bytes) => ({ text: Buffer.from(bytes).toString('base64'), base64: true })),
  fc.constant(undefined),
);
/** Header names that trip JavaScript objects, or that differ from the usual ones only by case. */
const trickyHeaders = fc.dictionary(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'toString',
    'ce-__proto__',
    'ce-constructor',
    'Content-Type',
    'AUTHORIZATION',
  ),
  fc.string({ maxLength: 12 }),
  { maxKeys: 3 },
);
const plainHeaders = fc.record(
  {
    authorization: fc.oneof(
      fc.constant(`Bearer ${ADMIN_KEY}`),
      fc.constant(`Bearer ${ADMIN_KEY}x`),
      fc.string({ maxLength: 30 }),
    ),
    'content-type': contentType,
    'ce-specversion': fc.constantFrom('1.0', '0.3', ''),
    'ce-id': fc.string({ maxLength: 8 }),
    'ce-source': fc.string({ maxLength: 8 }),
    'ce-type': fc.string({ maxLength: 8 }),
    'idempotency-key': fc.string({ maxLength: 300 }),
  },
  { requiredKeys: ['authorization'] },
);
// Own properties only: a generated `__proto__` name stays a header, as a Function URL would send it.
const headers = fc.tuple(plainHeaders, trickyHeaders).map(([plain, tricky]) => {
  const all: Record<string, string> = Object.create(null);
  for (const [name, value] of [...Object.entries(tricky), ...Object.entries(plain)]) all[name] = value;
  return all;
});
const query = fc.dictionary(
  fc.constantFrom('offset', 'limit', 'timestamp', 'x'),
  fc.oneof(fc.nat().map(String), fc.string({ maxLength: 30 })),
  {
    maxKeys: 3,
  },
);

function toEvent(
  method: string,
  rawPath: string,
  h: Record<string, string>,
  q: Record<string, string>,
  b?: { text: string; base64: boolean },
): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: new URLSearchParams(q).toString(),
    headers: h,
    queryStringParameters: Object.keys(q).length ? q : undefined,
    body: b?.text,
    isBase64Encoded: b?.base64 ?? false,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'fuzz',
      domainName: 'localhost',
      domainPrefix: 'fuzz',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'fast-check' },
      requestId: 'fuzz',
      routeKey: '$default',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
  };
}

test('arbitrary requests never get a 5xx, and a refused request never changes the log', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
      path,
      headers,
      query,
      body,
      async (method, rawPath, h, q, b) => {
        const before = await ends();
        const result = await handler(toEvent(method, rawPath, h, q, b), {} as never);
        expect(result.statusCode).toBeLessThan(500);
        const parsed = JSON.parse(result.body ?? '{}');
        if ((result.statusCode ?? 0) >= 400) {
          expect(parsed.error.code).toMatch(/^[A-Z_]+$/);
          expect(await ends()).toEqual(before);
        }
      },
    ),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 400) },
  );
}, 300_000);
