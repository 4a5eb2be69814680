import { createBusCore } from '../../../shared/bus';
import { startTestApi, type TestApi } from '../../support/api';
import { uniqueTopic } from '../../support/aws';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api.close();
});

const orders = {
  type: 'object',
  properties: { id: { type: 'string' }, total: { type: 'number', minimum: 0 } },
  required: ['id'],
};

async function topic(): Promise<string> {
  const name = uniqueTopic('schema');
  expect(
    (await api.request('PUT', `/topics/${name}`, { body: { partitions: 1, retentionHours: 24 } })).status,
  ).toBe(201);
  return name;
}

describe('topic schemas over HTTP', () => {
  test('register, publish valid and invalid, evolve: the contract is enforced and nothing invalid is appended', async () => {
    const name = await topic();
    expect((await api.request('GET', `/topics/${name}/schema`)).status).toBe(404);
    const first = await api.request('PUT', `/topics/${name}/schema`, { body: { schema: orders } });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ version: 1, compatibility: 'BACKWARD' });
    expect((await api.request('PUT', `/topics/${name}/schema`, { body: { schema: orders } })).status).toBe(
      200,
    );

    // A valid event is accepted and carries the version it was checked against.
    const ok = await api.request('POST', `/topics/${name}/events`, {
      body: { events: [{ value: { id: 'o-1', total: 3 } }] },
    });
    expect(ok.status).toBe(200);
    // One invalid event refuses the whole request, naming it, and appends nothing.
    const bad = await api.request('POST', `/topics/${name}/events`, {
      body: { events: [{ value: { id: 'o-2' } }, { value: { id: 'o-3', total: -1 } }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({
      code: 'SCHEMA_VIOLATION',
      index: 1,
      pointer: '/total',
      version: 1,
    });
    expect(bad.body.error.rule).toContain('minimum');
    const read = await api.request('GET', `/topics/${name}/partitions/0/events?offset=0`);
    expect(read.body.events).toHaveLength(1);
    expect(read.body.events[0].headers['eventbus-schema-version']).toBe('1');

    // An incompatible evolution is refused with reasons; a compatible one is the next version.
    const breaking = await api.request('PUT', `/topics/${name}/schema`, {
      body: { schema: { ...orders, required: ['id', 'total'] } },
    });
    expect(breaking.status).toBe(409);
    expect(breaking.body.error.code).toBe('SCHEMA_INCOMPATIBLE');
    expect(breaking.body.error.reasons).toEqual([
      { pointer: '/required', reason: expect.stringContaining('"total"') },
    ]);
    const widened = { ...orders, properties: { ...orders.properties, total: { type: 'number' } } };
    expect(
      (await api.request('PUT', `/topics/${name}/schema`, { body: { schema: widened } })).body.version,
    ).toBe(2);
    const versions = await api.request('GET', `/topics/${name}/schema/versions`);
    expect(versions.body.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    expect((await api.request('GET', `/topics/${name}/schema/versions/1`)).body.schema).toEqual(orders);
    expect((await api.request('GET', `/topics/${name}/schema`)).body).toMatchObject({
      version: 2,
      compatibility: 'BACKWARD',
    });
  });

  test('a CloudEvent is validated on its data', async () => {
    const name = await topic();
    await api.request('PUT', `/topics/${name}/schema`, { body: { schema: orders } });
    const event = {
      specversion: '1.0',
      id: 'e-1',
      source: 'shop',
      type: 'order.created',
      datacontenttype: 'application/json',
    };
    const bad = await api.request('POST', `/topics/${name}/events`, {
      body: { ...event, data: { total: 1 } },
      headers: { 'content-type': 'application/cloudevents+json' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('SCHEMA_VIOLATION');
    const good = await api.request('POST', `/topics/${name}/events`, {
      body: { ...event, data: { id: 'o-1' } },
      headers: { 'content-type': 'application/cloudevents+json' },
    });
    expect(good.status).toBe(200);
  });

  test('every CloudEvents mode is validated on its data: binary, and a batch refused whole at its first invalid event', async () => {
    const name = await topic();
    await api.request('PUT', `/topics/${name}/schema`, { body: { schema: orders } });
    const binary = (data: unknown, contentType = 'application/json') =>
      api.request('POST', `/topics/${name}/events`, {
        body: data,
        headers: {
          'content-type': contentType,
          'ce-specversion': '1.0',
          'ce-id': 'b-1',
          'ce-source': 'shop',
          'ce-type': 'order.created',
        },
      });
    // Binary mode: the body is the data
    const badBinary = await binary({ total: 3 });
    expect(badBinary.status).toBe(400);
    expect(badBinary.body.error).toMatchObject({ code: 'SCHEMA_VIOLATION' });
    expect(badBinary.body.error.message).toContain('required');
    // A text value is not JSON: refused too, saying so
    const text = await binary('o-1', 'text/plain');
    expect(text.status).toBe(400);
    expect(text.body.error.message).toContain('not JSON');
    expect((await binary({ id: 'o-1' })).status).toBe(200);
    // Batch mode: the second event is invalid, so none of the three is appended
    const base = {
      specversion: '1.0',
      source: 'shop',
      type: 'order.created',
      datacontenttype: 'application/json',
    };
    const batch = await api.request('POST', `/topics/${name}/events`, {
      body: [
        { ...base, id: 'c-1', data: { id: 'o-2' } },
        { ...base, id: 'c-2', data: { id: 'o-3', total: -1 } },
        { ...base, id: 'c-3', data: { id: 'o-4' } },
      ],
      headers: { 'content-type': 'application/cloudevents-batch+json' },
    });
    expect(batch.status).toBe(400);
    expect(batch.body.error).toMatchObject({ code: 'SCHEMA_VIOLATION', index: 1, pointer: '/total' });
    const read = await api.request('GET', `/topics/${name}/partitions/0/events?offset=0`);
    expect(read.body.events.map((e: { value: unknown }) => e.value)).toEqual([{ id: 'o-1' }]);
    expect(read.body.events[0].headers['eventbus-schema-version']).toBe('1');
  });

  test.each([
    ['an unknown topic', 'PUT', (t: string) => `/topics/${t}-missing/schema`, { schema: orders }, 404],
    [
      'a remote $ref',
      'PUT',
      (t: string) => `/topics/${t}/schema`,
      { schema: { $ref: 'https://x.example/s.json' } },
      400,
    ],
    [
      'an unknown mode',
      'PUT',
      (t: string) => `/topics/${t}/schema`,
      { schema: orders, compatibility: 'SOMETIMES' },
      400,
    ],
    ['a missing version', 'GET', (t: string) => `/topics/${t}/schema/versions/7`, undefined, 404],
  ])('answers %s with a clear 4xx', async (_name, method, path, body, status) => {
    const name = await topic();
    const res = await api.request(method as 'PUT', path(name), body ? { body } : {});
    expect(res.status).toBe(status);
    expect(res.body.error.code).toMatch(/^[A-Z_]+$/);
  });
});

describe('a schema registered on one API instance, seen from another', () => {
  // A second instance on the same tables, whose caches run on a clock the test moves.
  // Not 0: lru-cache takes an entry set at time 0 for one without a time-to-live.
  let clock = 1_000_000;
  let other: TestApi;
  beforeAll(async () => {
    other = await startTestApi(undefined, { cacheClock: () => clock });
  });
  afterAll(() => other.close());

  const publish = (on: TestApi, name: string, total: number) =>
    on.request('POST', `/topics/${name}/events`, { body: { events: [{ value: { id: 'o', total } }] } });
  /** The version the last event of partition 0 was checked against, read back from the log. */
  const lastVersion = async (name: string) => {
    const { events } = (await api.request('GET', `/topics/${name}/partitions/0/events?offset=0`)).body;
    return events.at(-1).headers['eventbus-schema-version'];
  };

  test('validates against version 1 until its 10 s window has passed, and against version 2 after', async () => {
    const name = await topic();
    await api.request('PUT', `/topics/${name}/schema`, { body: { schema: orders } });
    expect((await publish(other, name, 3)).status).toBe(200);
    expect(await lastVersion(name)).toBe('1');

    // Version 2 accepts a negative total; the registering instance enforces it at once.
    const widened = { ...orders, properties: { ...orders.properties, total: { type: 'number' } } };
    expect(
      (await api.request('PUT', `/topics/${name}/schema`, { body: { schema: widened } })).body.version,
    ).toBe(2);
    expect((await publish(api, name, -1)).status).toBe(200);
    expect(await lastVersion(name)).toBe('2');

    // The other instance still knows version 1 as the latest: it refuses what version 1 refuses.
    clock += 9_999;
    const refused = await publish(other, name, -1);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'SCHEMA_VIOLATION', pointer: '/total', version: 1 });
    expect((await publish(other, name, 4)).status).toBe(200);
    expect(await lastVersion(name)).toBe('1');

    // Once the window has passed it reads the latest again.
    clock += 2;
    expect((await publish(other, name, -1)).status).toBe(200);
    expect(await lastVersion(name)).toBe('2');
  });

  test('a topic the registrar deletes is still published to by an instance that knew it, until its 60 s topic cache expires', async () => {
    const name = await topic();
    expect((await publish(other, name, 1)).status).toBe(200);
    // Topics are deleted only by the registrar (a declaration with removeOnDelete), in a process of its own.
    expect(await createBusCore().topics.delete(name)).toBe(true);
    // Nothing tells the API instances: one that had the topic cached appends to it for up to a minute.
    clock += 59_999;
    expect((await publish(other, name, 1)).status).toBe(200);
    clock += 2;
    expect((await publish(other, name, 1)).status).toBe(404);
  });
});
