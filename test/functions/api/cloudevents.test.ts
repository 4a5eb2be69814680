import { CloudEvent, HTTP, type Message } from 'cloudevents';
import type { EventView } from '../../../protocol';
import { ADMIN_KEY, startTestApi, type TestApi } from '../../support/api';
import { uniqueTopic } from '../../support/aws';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

/** Kafka: toPositive(murmur2("foobar")) % 8 — see api.test.ts. */
const FOOBAR_PARTITION_OF_8 = (-790332482 & 0x7fffffff) % 8;

interface Answer {
  status: number;
  body: {
    results: { partition: number; offset: number }[];
    error: { code: string; message: string };
  };
}

/** POSTs a message as the CloudEvents SDK (or a hand-written request) shapes it. */
async function publish(
  topic: string,
  message: { headers: Message['headers']; body: unknown },
): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_KEY}` };
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined) headers[name] = String(value);
  }
  const response = await fetch(`${api.url}/topics/${topic}/events`, {
    method: 'POST',
    headers,
    body: message.body as string | Buffer | undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function createTopic(partitions: number, prefix = 'ce'): Promise<string> {
  const topic = uniqueTopic(prefix);
  const res = await api.request('PUT', `/topics/${topic}`, { body: { partitions, retentionHours: 24 } });
  expect(res.status).toBe(201);
  return topic;
}

async function readEvents(topic: string, partition: number, offset: number, limit = 1): Promise<EventView[]> {
  const res = await api.request(
    'GET',
    `/topics/${topic}/partitions/${partition}/events?offset=${offset}&limit=${limit}`,
  );
  expect(res.status).toBe(200);
  return res.body.events;
}

async function readOne(topic: string, answer: Answer): Promise<EventView> {
  expect(answer.status).toBe(200);
  const [{ partition, offset }] = answer.body.results;
  const [event] = await readEvents(topic, partition, offset);
  return event;
}

async function endOffsets(topic: string): Promise<number[]> {
  const { body } = await api.request('GET', `/topics/${topic}`);
  return body.partitions.map((p: { endOffset: number }) => p.endOffset);
}

describe('CloudEvents binary mode', () => {
  test('an SDK binary event is stored as the Kafka binding does: ce_ headers, content-type, partitionkey as key, JSON value', async () => {
    const topic = await createTopic(8);
    const cloudEvent = new CloudEvent({
      id: 'order-created-1',
      source: '/shop/orders',
      type: 'com.example.order.created',
      subject: 'order-1',
      partitionkey: 'foobar',
      tenant: 'acme',
      data: { total: 10, items: ['book'] },
    });

    const answer = await publish(topic, HTTP.binary(cloudEvent));

    expect(answer.body.results).toEqual([{ partition: FOOBAR_PARTITION_OF_8, offset: 0 }]);
    expect(await readOne(topic, answer)).toEqual({
      offset: 0,
      timestamp: expect.any(String),
      key: 'foobar',
      value: { total: 10, items: ['book'] },
      headers: {
        ce_specversion: '1.0',
        ce_id: 'order-created-1',
        ce_source: '/shop/orders',
        ce_type: 'com.example.order.created',
        ce_subject: 'order-1',
        ce_time: cloudEvent.time,
        ce_partitionkey: 'foobar',
        ce_tenant: 'acme',
        'content-type': 'application/json; charset=utf-8',
      },
    });
  });

  test('text/plain data comes back as the string, bytes as base64 with valueEncoding', async () => {
    const topic = await createTopic(1);
    const text = new CloudEvent({
      id: 't-1',
      source: '/s',
      type: 'greeting',
      datacontenttype: 'text/plain',
      data: 'héllo wörld',
    });
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    const binary = new CloudEvent({
      id: 'b-1',
      source: '/s',
      type: 'blob',
      datacontenttype: 'application/octet-stream',
      data: bytes,
    });

    const readText = await readOne(topic, await publish(topic, HTTP.binary(text)));
    const readBinary = await readOne(topic, await publish(topic, HTTP.binary(binary)));

    expect(readText.value).toBe('héllo wörld');
    expect(readText.headers['content-type']).toBe('text/plain');
    expect(readText.valueEncoding).toBeUndefined();
    expect(readBinary.value).toBe(bytes.toString('base64'));
    expect(readBinary.valueEncoding).toBe('base64');
    expect(readBinary.headers).toMatchObject({ ce_id: 'b-1', 'content-type': 'application/octet-stream' });
    expect(readBinary.key).toBeNull();
  });

  test('application/json with ce-specversion is binary mode: the body is the data, not {"events": [...]}', async () => {
    const topic = await createTopic(1);
    const body = JSON.stringify({ events: [{ value: 1 }] });
    const headers = {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'j-1',
      'ce-source': '/s',
      'ce-type': 't',
    };

    const asCloudEvent = await readOne(topic, await publish(topic, { headers, body }));
    const asOwnFormat = await readOne(
      topic,
      await publish(topic, { headers: { 'content-type': 'application/json' }, body }),
    );

    expect(asCloudEvent.value).toEqual({ events: [{ value: 1 }] });
    expect(asCloudEvent.headers).toMatchObject({ ce_id: 'j-1', 'content-type': 'application/json' });
    expect(asOwnFormat).toMatchObject({ value: 1, headers: {} });
  });

  test('header values are percent-decoded and time is kept as sent', async () => {
    const topic = await createTopic(1);
    const headers = {
      'ce-specversion': '1.0',
      'ce-id': 'p-1',
      'ce-source': '/s',
      'ce-type': 't',
      'ce-time': '2018-04-05T17:31:00+02:00',
      'ce-subject': 'Euro%20%E2%82%AC%20%F0%9F%98%80',
      'content-type': 'text/plain; charset=utf-8',
    };

    const event = await readOne(topic, await publish(topic, { headers, body: 'x' }));

    expect(event.headers).toMatchObject({ ce_subject: 'Euro € 😀', ce_time: '2018-04-05T17:31:00+02:00' });
    expect(event.value).toBe('x');
  });

  test('an event without data is stored with an empty value', async () => {
    const topic = await createTopic(1);
    const event = await readOne(
      topic,
      await publish(topic, HTTP.binary(new CloudEvent({ id: 'e-1', source: '/s', type: 't' }))),
    );
    expect(event.headers).toMatchObject({ ce_id: 'e-1', ce_type: 't' });
    expect(event.value).toBe('');
  });
});

describe('CloudEvents structured mode', () => {
  test('an SDK structured event: extensions become string headers, JSON data comes back parsed', async () => {
    const topic = await createTopic(8);
    const cloudEvent = new CloudEvent({
      id: 's-1',
      source: 'https://example.com/orders',
      type: 'com.example.order.paid',
      dataschema: 'https://example.com/schemas/paid.json',
      partitionkey: 'foobar',
      flag: true,
      count: 5,
      data: { paid: true },
    });

    const answer = await publish(topic, HTTP.structured(cloudEvent));

    expect(answer.body.results[0].partition).toBe(FOOBAR_PARTITION_OF_8);
    const event = await readOne(topic, answer);
    expect(event.key).toBe('foobar');
    expect(event.value).toEqual({ paid: true });
    expect(event.headers).toEqual({
      ce_specversion: '1.0',
      ce_id: 's-1',
      ce_source: 'https://example.com/orders',
      ce_type: 'com.example.order.paid',
      ce_time: cloudEvent.time,
      ce_dataschema: 'https://example.com/schemas/paid.json',
      ce_partitionkey: 'foobar',
      ce_flag: 'true',
      ce_count: '5',
    });
  });

  test('binary data travels as data_base64 and comes back as the same bytes', async () => {
    const topic = await createTopic(1);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);
    const message = HTTP.structured(
      new CloudEvent({ id: 'img-1', source: '/s', type: 'image', datacontenttype: 'image/png', data: png }),
    );
    expect(JSON.parse(message.body as string).data_base64).toBe(png.toString('base64'));

    const event = await readOne(topic, await publish(topic, message));

    expect(event).toMatchObject({ value: png.toString('base64'), valueEncoding: 'base64' });
    expect(event.headers['content-type']).toBe('image/png');
  });

  test('a hand-written event: time as given, null members unset, string data under a text type stored as text', async () => {
    const topic = await createTopic(1);
    const body = JSON.stringify({
      specversion: '1.0',
      type: 'com.example.someevent',
      source: '/mycontext',
      id: 'A234-1234-1234',
      time: '2018-04-05T17:31:00Z',
      subject: null,
      comexampleextension1: 'value',
      unsetextension: null,
      datacontenttype: 'text/xml',
      data: '<much wow="xml"/>',
    });

    const event = await readOne(
      topic,
      await publish(topic, {
        headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
        body,
      }),
    );

    expect(event.value).toBe('<much wow="xml"/>');
    expect(event.headers).toEqual({
      ce_specversion: '1.0',
      ce_id: 'A234-1234-1234',
      ce_source: '/mycontext',
      ce_type: 'com.example.someevent',
      ce_time: '2018-04-05T17:31:00Z',
      ce_comexampleextension1: 'value',
      'content-type': 'text/xml',
    });
  });
});

describe('CloudEvents batch mode', () => {
  test('a batch is appended in order; the same partitionkey lands on the same partition', async () => {
    const topic = await createTopic(8);
    const base = { specversion: '1.0', source: '/batch', type: 'com.example.step', partitionkey: 'foobar' };
    const body = JSON.stringify([
      { ...base, id: 'b-1', data: { step: 1 } },
      { ...base, id: 'b-2', datacontenttype: 'text/plain', data: 'two' },
      { ...base, id: 'b-3', datacontenttype: 'application/octet-stream', data_base64: 'AAEC' },
    ]);

    const answer = await publish(topic, {
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body,
    });

    expect(answer.status).toBe(200);
    expect(answer.body.results).toEqual(
      [0, 1, 2].map((offset) => ({ partition: FOOBAR_PARTITION_OF_8, offset })),
    );
    const events = await readEvents(topic, FOOBAR_PARTITION_OF_8, 0, 3);
    expect(events.map((e) => [e.key, e.headers.ce_id, e.value, e.valueEncoding])).toEqual([
      ['foobar', 'b-1', { step: 1 }, undefined],
      ['foobar', 'b-2', 'two', undefined],
      ['foobar', 'b-3', 'AAEC', 'base64'],
    ]);
  });
});

describe('fails with a clear 4xx and appends nothing', () => {
  let topic: string;
  beforeAll(async () => {
    topic = await createTopic(2, 'cebad');
  });

  const binaryHeaders = {
    'ce-specversion': '1.0',
    'ce-id': 'x-1',
    'ce-source': '/s',
    'ce-type': 't',
    'content-type': 'text/plain',
  };
  const binary =
    (headers: Record<string, string | undefined>, body: string | Buffer = 'data') =>
    () =>
      publish(topic, { headers: { ...binaryHeaders, ...headers }, body });
  const valid = { specversion: '1.0', id: 'x-1', source: '/s', type: 't', data: 1 };
  const structured = (event: Record<string, unknown> | string) => () =>
    publish(topic, {
      headers: { 'content-type': 'application/cloudevents+json' },
      body: typeof event === 'string' ? event : JSON.stringify(event),
    });
  const batch = (body: unknown) => () =>
    publish(topic, {
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify(body),
    });
  const without = (name: string) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== name));

  const cases: [string, () => Promise<Answer>, number, string, RegExp][] = [
    ['binary: no ce-id', binary({ 'ce-id': undefined }), 400, 'INVALID_REQUEST', /ce-id/],
    ['binary: no ce-source', binary({ 'ce-source': undefined }), 400, 'INVALID_REQUEST', /ce-source/],
    ['binary: no ce-type', binary({ 'ce-type': undefined }), 400, 'INVALID_REQUEST', /ce-type/],
    [
      'binary: no ce-specversion',
      binary({ 'ce-specversion': undefined }),
      400,
      'INVALID_REQUEST',
      /ce-specversion/,
    ],
    [
      'binary: specversion 0.3',
      binary({ 'ce-specversion': '0.3' }),
      400,
      'INVALID_REQUEST',
      /"0\.3" is not supported.*1\.0/,
    ],
    [
      'binary: specversion 2.0',
      binary({ 'ce-specversion': '2.0' }),
      400,
      'INVALID_REQUEST',
      /"2\.0" is not supported/,
    ],
    [
      'binary: an extension name with "_"',
      binary({ 'ce-my_ext': 'x' }),
      400,
      'INVALID_REQUEST',
      /lower-case/,
    ],
    [
      'binary: ce-datacontenttype',
      binary({ 'ce-datacontenttype': 'text/plain' }),
      400,
      'INVALID_REQUEST',
      /Content-Type/,
    ],
    [
      'binary: a JSON content type over bytes that are not JSON',
      binary({ 'content-type': 'application/json' }, '{nope'),
      400,
      'INVALID_REQUEST',
      /not valid JSON/,
    ],
    ['binary: bad percent-encoding', binary({ 'ce-subject': '100%' }), 400, 'INVALID_REQUEST', /%25/],
    [
      'binary: a time without offset',
      binary({ 'ce-time': '2018-04-05T17:31:00' }),
      400,
      'INVALID_REQUEST',
      /RFC 3339/,
    ],
    [
      'binary: a source that is no URI reference',
      binary({ 'ce-source': 'a%20b' }),
      400,
      'INVALID_REQUEST',
      /ce-source" must match format "uri-reference"/,
    ],
    ['structured: no id', structured(without('id')), 400, 'INVALID_REQUEST', /"id"/],
    ['structured: no source', structured(without('source')), 400, 'INVALID_REQUEST', /"source"/],
    ['structured: no type', structured(without('type')), 400, 'INVALID_REQUEST', /"type"/],
    [
      'structured: no specversion',
      structured(without('specversion')),
      400,
      'INVALID_REQUEST',
      /"specversion"/,
    ],
    [
      'structured: specversion 0.3',
      structured({ ...valid, specversion: '0.3' }),
      400,
      'INVALID_REQUEST',
      /1\.0/,
    ],
    [
      'structured: specversion "2.0"',
      structured({ ...valid, specversion: '2.0' }),
      400,
      'INVALID_REQUEST',
      /1\.0/,
    ],
    ['structured: an empty id', structured({ ...valid, id: '' }), 400, 'INVALID_REQUEST', /non-empty/],
    ['structured: a numeric source', structured({ ...valid, source: 5 }), 400, 'INVALID_REQUEST', /"source"/],
    [
      'structured: a relative dataschema',
      structured({ ...valid, dataschema: 'schemas/x' }),
      400,
      'INVALID_REQUEST',
      /"dataschema" must match format "uri"/,
    ],
    [
      'structured: an upper-case extension',
      structured({ ...valid, myExt: 'x' }),
      400,
      'INVALID_REQUEST',
      /"myExt".*lower-case/,
    ],
    [
      'structured: an object extension',
      structured({ ...valid, myext: { a: 1 } }),
      400,
      'INVALID_REQUEST',
      /"myext" must be a string/,
    ],
    [
      'structured: both data and data_base64',
      structured({ ...valid, data_base64: 'AAEC' }),
      400,
      'INVALID_REQUEST',
      /both/,
    ],
    [
      'structured: data_base64 that is not base64',
      structured({ ...without('data'), data_base64: 'not base64!' }),
      400,
      'INVALID_REQUEST',
      /base64/,
    ],
    [
      'structured: a body that is not JSON',
      structured('{"specversion": "1.0", '),
      400,
      'INVALID_REQUEST',
      /not valid JSON/,
    ],
    ['structured: a JSON array', structured('[]'), 400, 'INVALID_REQUEST', /JSON object/],
    ['structured: an empty body', structured(''), 400, 'INVALID_REQUEST', /empty/],
    ['batch: not an array', batch(valid), 400, 'INVALID_REQUEST', /array/],
    ['batch: an empty array', batch([]), 400, 'INVALID_REQUEST', /empty/],
    [
      'batch: one bad event among good ones',
      batch([valid, without('source'), valid]),
      400,
      'INVALID_REQUEST',
      /events\[1\].*"source"/,
    ],
    [
      'batch: an element that is not an object',
      batch([valid, 'event']),
      400,
      'INVALID_REQUEST',
      /events\[1\]/,
    ],
    [
      'another event format',
      () => publish(topic, { headers: { 'content-type': 'application/cloudevents+xml' }, body: '<e/>' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      /cloudevents\+json/,
    ],
    [
      'a value over 1 MiB',
      binary({ 'content-type': 'application/octet-stream' }, Buffer.alloc(1024 * 1024 + 1)),
      413,
      'PAYLOAD_TOO_LARGE',
      /limit/,
    ],
  ];

  test.each(cases)('%s', async (_name, call, status, code, message) => {
    const before = await endOffsets(topic);
    const res = await call();
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(message);
    expect(await endOffsets(topic)).toEqual(before);
  });
});
