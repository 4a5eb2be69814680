import { SchemaIncompatibleError, SchemaViolationError } from '../../../shared/schemas/schema-errors';
import { SchemaRegistry } from '../../../shared/schemas/schema-registry';
import { TopicSchemas } from '../../../shared/schemas/topic-schemas';
import { documentClient, testConfig, uniqueTopic } from '../../support/aws';

const config = testConfig();
const registry = () => new SchemaRegistry(documentClient(), config.registryTable);

const v1 = {
  type: 'object',
  properties: { id: { type: 'string' }, total: { type: 'number', minimum: 0 } },
  required: ['id'],
  additionalProperties: false,
};
const v2 = { ...v1, properties: { ...v1.properties, note: { type: 'string' } } };

describe('the schema registry (DynamoDB Local)', () => {
  it('numbers versions, answers the latest for an equal schema, and keeps every version', async () => {
    const topic = uniqueTopic('schema');
    const schemas = registry();
    expect(await schemas.register(topic, v1)).toEqual({
      version: 1,
      created: true,
      compatibility: 'BACKWARD',
    });
    // Key order does not make a new version.
    const reordered = {
      required: ['id'],
      additionalProperties: false,
      properties: v1.properties,
      type: 'object',
    };
    expect(await schemas.register(topic, reordered)).toEqual({
      version: 1,
      created: false,
      compatibility: 'BACKWARD',
    });
    expect(await schemas.register(topic, v2)).toMatchObject({ version: 2, created: true });
    expect((await schemas.versions(topic)).map((v) => v.version)).toEqual([1, 2]);
    expect((await schemas.latest(topic))?.schema).toEqual(v2);
    expect((await schemas.version(topic, 1))?.schema).toEqual(v1);
  });

  it('refuses an incompatible version with its reasons, and registers nothing', async () => {
    const topic = uniqueTopic('schema');
    const schemas = registry();
    await schemas.register(topic, v1);
    const requiresTotal = { ...v1, required: ['id', 'total'] };
    const refusal = await schemas.register(topic, requiresTotal).catch((e) => e);
    expect(refusal).toBeInstanceOf(SchemaIncompatibleError);
    expect(refusal.status).toBe(409);
    expect(refusal.reasons).toEqual([{ pointer: '/required', reason: expect.stringContaining('"total"') }]);
    expect(await schemas.versions(topic)).toHaveLength(1);
    // A mode given with the schema holds from then on.
    expect(await schemas.register(topic, requiresTotal, 'FORWARD')).toMatchObject({
      version: 2,
      compatibility: 'FORWARD',
    });
    expect(await schemas.mode(topic)).toBe('FORWARD');
  });

  it('two registrations racing for the same version: one wins, the other is checked against the winner', async () => {
    const topic = uniqueTopic('schema');
    await registry().register(topic, v1);
    // Each adds a different optional member: compatible with v1, and with each other under BACKWARD.
    const a = { ...v1, properties: { ...v1.properties, a: { type: 'string' } } };
    const b = { ...a, properties: { ...a.properties, b: { type: 'string' } } };
    const narrowing = { ...v1, properties: { ...v1.properties, total: { type: 'integer', minimum: 0 } } };
    const results = await Promise.allSettled([registry().register(topic, b), registry().register(topic, a)]);
    const versions = await registry().versions(topic);
    // Whatever the order, versions are dense and each stored version is compatible with the one before.
    expect(versions.map((v) => v.version)).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(versions.length - 1);
    // b after a is BACKWARD-compatible; a after b removes a member of a closed schema, so it is refused.
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(SchemaIncompatibleError);
    }
    const refusal = await registry()
      .register(topic, narrowing)
      .catch((e) => e);
    expect(refusal).toBeInstanceOf(SchemaIncompatibleError);
  });

  it.each([
    ['a remote $ref', { $ref: 'https://example.com/schema.json' }, /remote/],
    [
      'a nested remote $ref',
      { properties: { a: { $ref: 'other.json#/x' } } },
      /schema\/properties\/a\/\$ref/,
    ],
    ['an invalid schema', { type: 'strnig' }, /not valid JSON Schema/],
    ['a schema over 64 KiB', { description: 'x'.repeat(70_000) }, /at most 65536 bytes/],
    ['an array', [], /must be a JSON Schema/],
  ])('refuses %s with 400, registering nothing', async (_name, schema, message) => {
    const topic = uniqueTopic('schema');
    const refusal = await registry()
      .register(topic, schema)
      .catch((e) => e);
    expect(refusal.status).toBe(400);
    expect(refusal.code).toBe('INVALID_REQUEST');
    expect(refusal.message).toMatch(message);
    expect(await registry().versions(topic)).toEqual([]);
  });
});

describe('schemas at publish', () => {
  it('checks values against the latest version, naming the first invalid event, its pointer and rule', async () => {
    const topic = uniqueTopic('schema');
    const schemas = registry();
    const topicSchemas = new TopicSchemas(schemas);
    expect(await topicSchemas.check(topic, ['{"anything": 1}'])).toBeUndefined();
    await schemas.register(topic, v1);
    topicSchemas.forget(topic);
    expect(await topicSchemas.check(topic, ['{"id": "o-1", "total": 3}'])).toBe(1);
    const violation = await topicSchemas
      .check(topic, ['{"id": "o-1"}', '{"id": "o-2", "total": -1}', '{"id": 3}'])
      .catch((e) => e);
    expect(violation).toBeInstanceOf(SchemaViolationError);
    expect(violation.status).toBe(400);
    expect(violation.details).toEqual({
      index: 1,
      pointer: '/total',
      rule: '#/properties/total/minimum',
      version: 1,
    });
    const notJson = await topicSchemas.check(topic, [undefined]).catch((e) => e);
    expect(notJson.details).toMatchObject({ index: 0, rule: 'type' });
  });

  it('a pathological pattern cannot stall validation', async () => {
    const topic = uniqueTopic('schema');
    const schemas = registry();
    await schemas.register(topic, { type: 'string', pattern: '^(a+)+$' });
    const topicSchemas = new TopicSchemas(schemas);
    // On a backtracking engine this takes 2^40 steps; RE2 answers at once.
    const violation = await topicSchemas.check(topic, [JSON.stringify(`${'a'.repeat(40)}!`)]).catch((e) => e);
    expect(violation).toBeInstanceOf(SchemaViolationError);
    // A pattern RE2 cannot run is refused when registered.
    const refused = await schemas
      .register(uniqueTopic('schema'), { type: 'string', pattern: '(a)\\1' })
      .catch((e) => e);
    expect(refused.status).toBe(400);
  });
});
