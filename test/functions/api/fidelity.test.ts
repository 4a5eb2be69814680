import fc from 'fast-check';
import { type JsonNode, MAX_VALUE_DEPTH, parseJsonText, textOf } from '../../../shared/json/json-text';
import { ADMIN_KEY, startTestApi, type TestApi } from '../../support/api';
import { uniqueTopic } from '../../support/aws';

let api: TestApi;
let topic: string;
beforeAll(async () => {
  api = await startTestApi();
  topic = uniqueTopic('fidelity');
  await api.request('PUT', `/topics/${topic}`, { body: { partitions: 1, retentionHours: 24 } });
});
afterAll(() => api.close());

const auth = { authorization: `Bearer ${ADMIN_KEY}` };

async function post(
  body: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  const response = await fetch(`${api.url}/topics/${topic}/events`, {
    method: 'POST',
    headers: { ...auth, ...headers },
    body,
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** The read's answer as text, and each event's `value` exactly as it appears in that text. */
async function readRaw(
  offset: number,
  limit = 1,
): Promise<{ text: string; values: string[]; events: any[] }> {
  const response = await fetch(
    `${api.url}/topics/${topic}/partitions/0/events?offset=${offset}&limit=${limit}`,
    {
      headers: auth,
    },
  );
  const text = await response.text();
  expect(response.status).toBe(200);
  const root = parseJsonText(text, { maxDepth: 4 + MAX_VALUE_DEPTH, retainDepth: 3 });
  const events = (root as Extract<JsonNode, { type: 'object' }>).members?.get('events') as Extract<
    JsonNode,
    { type: 'array' }
  >;
  const values = (events.items ?? []).map((event) =>
    textOf(text, (event as Extract<JsonNode, { type: 'object' }>).members?.get('value') as JsonNode),
  );
  return { text, values, events: JSON.parse(text).events };
}

async function endOffset(): Promise<number> {
  return (await api.request('GET', `/topics/${topic}`)).body.partitions[0].endOffset;
}

function nested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

describe('payload fidelity', () => {
  test('a value nested as deep as the documented bound is accepted and reads back; deeper ones are refused with 400, changing nothing', async () => {
    const ok = await post(`{"events":[{"value":${nested(MAX_VALUE_DEPTH)}}]}`);
    expect(ok.status).toBe(200);
    const { values } = await readRaw(ok.body.results[0].offset);
    expect(values).toEqual([nested(MAX_VALUE_DEPTH)]);

    const before = await endOffset();
    for (const depth of [MAX_VALUE_DEPTH + 1, 4_100, 4_101, 100_000]) {
      const refused = await post(`{"events":[{"value":${nested(depth)}}]}`);
      expect({ depth, status: refused.status, code: refused.body.error.code }).toEqual({
        depth,
        status: 400,
        code: 'INVALID_REQUEST',
      });
      expect(refused.body.error.message).toContain(`${MAX_VALUE_DEPTH + 3} levels`);
    }
    const structured = await post(
      JSON.stringify({ specversion: '1.0', id: 'x', source: '/s', type: 't' }).replace(
        '}',
        `,"data":${nested(5_000)}}`,
      ),
      { 'content-type': 'application/cloudevents+json' },
    );
    expect(structured.status).toBe(400);
    const binary = await post(nested(5_000), {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'deep',
      'ce-source': '/s',
      'ce-type': 't',
    });
    expect(binary.status).toBe(400);
    expect(await endOffset()).toBe(before);
  });

  test('numbers keep their digits: big integers, 1e400, -0, 1.0 and exponents read back as written', async () => {
    const written = [
      '12345678901234567890123',
      '1e400',
      '-0',
      '1.0',
      '1E+2',
      '0.1000000000000000000001',
      '-9007199254740993',
    ];
    const published = await post(`{"events":[${written.map((n) => `{"value":${n}}`).join(',')}]}`);
    expect(published.status).toBe(200);
    const { values } = await readRaw(published.body.results[0].offset, written.length);
    expect(values).toEqual(written);
  });

  test('whitespace and escapes inside a value are kept as sent', async () => {
    const value = '{ "a" : [1,  2,\n 3], "b":"\\u00e9\\n\\ud83d\\ude00", "c": "\\ud800" }';
    const published = await post(`{"events":[{"value":${value}}]}`);
    expect(published.status).toBe(200);
    expect((await readRaw(published.body.results[0].offset)).values).toEqual([value]);
  });

  test('fails with 400 on duplicate member names, at any depth, and changes nothing', async () => {
    const before = await endOffset();
    for (const body of [
      '{"events":[{"value":{"a":1,"a":2}}]}',
      '{"events":[{"value":{"x":{"y":[{"k":1,"k":1}]}}}]}',
      '{"events":[{"value":1,"value":2}]}',
      '{"events":[],"events":[{"value":1}]}',
      '{"events":[{"value":1,"headers":{"h":"1","h":"2"}}]}',
    ]) {
      const refused = await post(body);
      expect({ body, status: refused.status }).toEqual({ body, status: 400 });
      expect(refused.body.error.message).toContain('appears twice');
    }
    expect(await endOffset()).toBe(before);
  });

  test('fails with 400 on a body that is not UTF-8, and on keys or headers no UTF-8 can hold', async () => {
    const before = await endOffset();
    const invalid = Buffer.concat([
      Buffer.from('{"events":[{"value":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}]}'),
    ]);
    expect((await post(invalid)).status).toBe(400);
    expect((await post('{"events":[{"key":"\\ud800","value":1}]}')).status).toBe(400);
    expect((await post('{"events":[{"value":1,"headers":{"h":"\\udc00"}}]}')).status).toBe(400);
    expect(await endOffset()).toBe(before);
  });

  test('a header named __proto__ is kept', async () => {
    const published = await post('{"events":[{"value":1,"headers":{"__proto__":"p","constructor":"c"}}]}');
    expect(published.status).toBe(200);
    const { text } = await readRaw(published.body.results[0].offset);
    expect(text).toContain('"headers":{"__proto__":"p","constructor":"c"}');
  });

  test('a structured CloudEvent whose required attributes sit only under "__proto__" is refused', async () => {
    const refused = await post('{"type":"t","source":"/s","__proto__":{"specversion":"1.0","id":"x"}}', {
      'content-type': 'application/cloudevents+json',
    });
    expect(refused.status).toBe(400);
  });

  test('a read never passes the 6 MB answer cap, however much text values grow once escaped', async () => {
    // Two 1 MiB text values of control characters: each is about 6 MiB once escaped in JSON.
    const offsets: number[] = [];
    for (let i = 0; i < 2; i++) {
      const published = await post(Buffer.alloc(1024 * 1024, 1), {
        'content-type': 'text/plain',
        'ce-specversion': '1.0',
        'ce-id': `ctl-${i}`,
        'ce-source': '/s',
        'ce-type': 't',
      });
      expect(published.status).toBe(200);
      offsets.push(published.body.results[0].offset);
    }
    const response = await fetch(
      `${api.url}/topics/${topic}/partitions/0/events?offset=${offsets[0]}&limit=2`,
      {
        headers: auth,
      },
    );
    const text = await response.text();
    expect(Buffer.byteLength(text)).toBeLessThan(6_000_000);
    const body = JSON.parse(text);
    // The first event alone would pass the cap as text: it comes as base64, whole, and the read moves on.
    expect(body.events).toHaveLength(1);
    expect(body.events[0].valueEncoding).toBe('base64');
    expect(Buffer.from(body.events[0].value, 'base64')).toEqual(Buffer.alloc(1024 * 1024, 1));
    expect(body.nextOffset).toBe(offsets[1]);
  });

  test('property: any accepted event reads back as sent — token for token for JSON, byte for byte for text and binary', async () => {
    // JSON text with big and odd numbers, every Unicode plane, and the whitespace a producer might use.
    const number = fc.oneof(
      fc.bigInt().map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? '-0' : String(d))),
      fc.constantFrom('1e400', '-1E-400', '0.0', '123456789012345678901234567890.5'),
    );
    const string = fc.string({ unit: 'grapheme-composite' }).map((s) => JSON.stringify(s));
    const jsonText = fc.letrec<{ value: string }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        number,
        string,
        fc.constantFrom('true', 'false', 'null'),
        fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(' ,')}]`),
        fc
          .uniqueArray(fc.tuple(fc.string({ maxLength: 5 }), tie('value')), {
            selector: ([k]) => k,
            maxLength: 4,
          })
          .map((members) => `{${members.map(([k, v]) => `${JSON.stringify(k)} : ${v}`).join(',')}}`),
      ),
    })).value;
    const event = fc.oneof(
      jsonText.map((text) => ({ kind: 'json' as const, text })),
      fc.string({ unit: 'binary' }).map((text) => ({ kind: 'text' as const, text })),
      fc
        .uint8Array({ maxLength: 64 })
        .map((bytes) => ({ kind: 'binary' as const, bytes: Buffer.from(bytes) })),
    );
    await fc.assert(
      fc.asyncProperty(event, async (sent) => {
        const ce = { 'ce-specversion': '1.0', 'ce-id': 'p', 'ce-source': '/p', 'ce-type': 't' };
        const published =
          sent.kind === 'json'
            ? await post(`{"events":[{"value":${sent.text}}]}`)
            : sent.kind === 'text'
              ? await post(Buffer.from(sent.text, 'utf8'), {
                  ...ce,
                  'content-type': 'text/plain; charset=utf-8',
                })
              : await post(sent.bytes, { ...ce, 'content-type': 'application/octet-stream' });
        if (sent.kind === 'text' && !(sent.text as string & { isWellFormed(): boolean }).isWellFormed()) {
          return; // a lone surrogate has no UTF-8 bytes: there is nothing to send as text
        }
        expect(published.status).toBe(200);
        const { values, events } = await readRaw(published.body.results[0].offset);
        if (sent.kind === 'json') expect(values[0]).toBe(sent.text);
        if (sent.kind === 'text') expect(events[0].value).toBe(sent.text);
        if (sent.kind === 'binary') expect(Buffer.from(events[0].value, 'base64')).toEqual(sent.bytes);
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 150) },
    );
  });
});
