import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { routeContext } from '../../../functions/api/contract/route';
import { serveRoute } from '../../../functions/api/contract/serve-route';
import { OPENAPI_FILE } from '../../../functions/api/contract/write-openapi';
import { createApiHandler } from '../../../functions/api/handler';
import { apiDocument } from '../../../functions/api/routes';
import { API_ROUTES } from '../../../functions/api/routes/index';
import { createBus } from '../../../shared/bus';
import { DEFAULT_LIMITS } from '../../../shared/publish/limits';
import { ADMIN_KEY, startTestApi, type TestApi } from '../../support/api';
import { uniqueTopic } from '../../support/aws';
import { documentedOperations, exampleBody, fillPath, type OpenApi, type Operation } from './support/walk';

/** The document as a client receives it: JSON, without the generator's undefined members. */
const generated = JSON.parse(JSON.stringify(apiDocument())) as OpenApi & Record<string, unknown>;
const operations = documentedOperations(generated);

/** Validation by @seriousme/openapi-schema-validator, an ES module, in its own Node process. */
function validateOpenApi(document: unknown): { valid: boolean; errors?: unknown } {
  const script =
    "import { Validator } from '@seriousme/openapi-schema-validator';" +
    "let text = ''; process.stdin.on('data', (c) => { text += c; }).on('end', async () => {" +
    ' const validator = new Validator(); const result = await validator.validate(JSON.parse(text));' +
    ' process.stdout.write(JSON.stringify({ ...result, version: validator.version })); });';
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    input: JSON.stringify(document),
    cwd: `${__dirname}/../../..`,
  });
  return JSON.parse(out.toString());
}

describe('the OpenAPI document', () => {
  test('docs/openapi.json is the document the code generates (run `npm run openapi` after changing a route)', () => {
    const committed = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8'));
    expect(committed).toEqual(generated);
  });

  test('is valid OpenAPI 3.1', () => {
    const result = validateOpenApi(generated);
    expect(result.errors).toBeUndefined();
    expect(result).toMatchObject({ valid: true, version: '3.1' });
  });

  test('fails validation when it is broken (so the check above can fail)', () => {
    const broken: Record<string, unknown> = structuredClone(generated);
    delete broken.info;
    expect(validateOpenApi(broken).valid).toBe(false);
  });

  test('describes every route the router serves, and nothing else', () => {
    const served = API_ROUTES.map((route) => `${route.method} ${route.path}`).sort();
    expect(operations.map((operation) => `${operation.method} ${operation.path}`).sort()).toEqual(served);
    expect(new Set(operations.map((operation) => operation.operationId)).size).toBe(operations.length);
  });

  test('fails to wire a route whose declared access names a path parameter it has not', () => {
    const [describeTopic] = API_ROUTES.filter((route) => route.operationId === 'describeTopic');
    const wrong = { ...describeTopic, access: { permission: 'read', resource: { param: 'group' } } } as const;
    expect(() => serveRoute(wrong, routeContext(createBus({ adminKey: ADMIN_KEY }), DEFAULT_LIMITS))).toThrow(
      'GET /topics/{topic} declares access on {group}, which it has not.',
    );
  });

  test('the router answers every documented route, and only those', async () => {
    // GIVEN the handler as Lambda runs it: without a key, a route it serves answers 401 (or 200 if public), not 404
    const handler = createApiHandler(
      createBus({ adminKey: ADMIN_KEY }),
      DEFAULT_LIMITS,
      new Logger({ logLevel: 'SILENT' }),
    );
    const send = async (method: string, path: string) => {
      const event = {
        version: '2.0',
        rawPath: path,
        rawQueryString: '',
        headers: {},
        isBase64Encoded: false,
        requestContext: { http: { method, path } },
      } as unknown as APIGatewayProxyEventV2;
      const result = await handler(event, {} as never);
      return { status: result.statusCode, body: result.body ? JSON.parse(result.body) : undefined };
    };
    const names = { topic: 't', group: 'g', partition: '0', id: 'k', version: '1' };
    for (const operation of operations) {
      const answer = await send(operation.method, fillPath(operation.path, names));
      expect([operation.operationId, answer.status]).toEqual([
        operation.operationId,
        operation.access.public ? 200 : 401,
      ]);
    }
    expect((await send('GET', '/topics/t/partitions')).body.error.code).toBe('NOT_FOUND');
    expect((await send('PATCH', '/topics/t')).status).toBeGreaterThanOrEqual(404);
  });
});

describe('every route answers what its schema says', () => {
  let api: TestApi;
  let fixture: Record<string, string>;
  let schemaTopic: string;

  beforeAll(async () => {
    // Deliverers are not this test's concern: wake-ups go nowhere.
    api = await startTestApi(undefined, { waker: { wake: async () => {} } });
    const topic = uniqueTopic('walk');
    const group = uniqueTopic('walk-group');
    await api.request('PUT', `/topics/${topic}`, { body: { partitions: 2, retentionHours: 24 } });
    await api.request('POST', `/topics/${topic}/events`, {
      body: { events: [{ value: 1 }, { value: 'two' }] },
    });
    await api.request('PUT', `/subscriptions/${group}`, {
      body: { topic, target: { type: 'lambda', function: 'walk' }, startFrom: 'earliest' },
    });
    const key = await api.request('POST', '/keys', {
      body: { acl: [{ topics: topic, permissions: ['read'] }] },
    });
    fixture = { topic, group, partition: '0', id: key.body.id };
    // The schema routes walk a topic of their own, whose schema is the document's example.
    schemaTopic = uniqueTopic('walk-schema');
    await api.request('PUT', `/topics/${schemaTopic}`, { body: { partitions: 1, retentionHours: 24 } });
    await api.request('PUT', `/topics/${schemaTopic}/schema`, {
      body: { schema: { type: 'object', required: ['id'] }, compatibility: 'BACKWARD' },
    });
  });
  afterAll(() => api.close());

  /** Deletes last, so that every other route still finds what it names. */
  const order = [...operations].sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
  const calls = order.flatMap((operation) =>
    (operation.requestTypes.length ? operation.requestTypes : [undefined]).map(
      (type) =>
        [`${operation.method} ${operation.path}${type ? ` (${type})` : ''}`, operation, type] as const,
    ),
  );

  test.each(calls)('%s', async (_name, operation: Operation, type: string | undefined) => {
    // Creating routes get names of their own, so that they create rather than find.
    const values = operation.path.includes('/schema')
      ? { ...fixture, topic: schemaTopic, version: '1' }
      : operation.method === 'PUT'
        ? { ...fixture, topic: uniqueTopic('walk-new'), group: uniqueTopic('walk-new') }
        : fixture;
    let body = type ? exampleBody(generated, operation, type) : undefined;
    expect(type === undefined || body !== undefined).toBe(true); // every body the document takes has an example
    if (body && typeof body === 'object' && 'topic' in body) body = { ...body, topic: fixture.topic };
    const query = operation.operationId === 'readEvents' ? '?offset=0&limit=10' : '';
    const res = await api.request(operation.method, fillPath(operation.path, values) + query, {
      ...(body !== undefined ? { body } : {}),
      ...(type ? { headers: { 'content-type': type } } : {}),
    });

    // THEN the status is one the route declares as its own, a success, and the body is what its schema says
    const route = API_ROUTES.find((r) => r.operationId === operation.operationId);
    const declared = route?.responses[res.status];
    expect([res.status, declared?.description ?? res.body]).toEqual([res.status, expect.any(String)]);
    expect(res.status).toBeLessThan(300);
    expect(Object.keys(operation.responses)).toContain(String(res.status));
    if (operation.method === 'HEAD' || res.status === 204) {
      expect(res.body).toBeUndefined();
      return;
    }
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const parsed = declared?.schema?.safeParse(res.body);
    expect(parsed?.error?.issues ?? []).toEqual([]);
    if (operation.operationId === 'openApi') expect(res.body).toEqual(generated);
  });
});
