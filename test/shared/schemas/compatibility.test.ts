import fc from 'fast-check';
import { accepts, type CompatibilityMode, checkCompatibility } from '../../../shared/schemas/compatibility';
import { createSchemaValidator } from '../../../shared/schemas/schema-validator';

const order = (extra: Record<string, unknown> = {}, required = ['id']) => ({
  type: 'object',
  properties: { id: { type: 'string' }, total: { type: 'number', minimum: 0 }, ...extra },
  required,
});
const closed = (schema: Record<string, unknown>) => ({ ...schema, additionalProperties: false });

/** The classic evolutions, [name, old, new, compatible BACKWARD, compatible FORWARD]. */
const EVOLUTIONS: [string, object, object, boolean, boolean][] = [
  // Open content: old values may carry any `note`, so typing it is a narrowing (Confluent's open content model).
  ['add an optional member (open content)', order(), order({ note: { type: 'string' } }), false, true],
  [
    'add an optional member (closed content)',
    closed(order()),
    closed(order({ note: { type: 'string' } })),
    true,
    false,
  ],
  ['add a required member', order(), order({ note: { type: 'string' } }, ['id', 'note']), false, true],
  ['remove an optional member (open content)', order({ note: { type: 'string' } }), order(), true, false],
  ['remove a required member', order({ note: { type: 'string' } }, ['id', 'note']), order(), true, false],
  [
    'remove a member (closed content)',
    closed(order({ note: { type: 'string' } })),
    closed(order()),
    false,
    true,
  ],
  ['widen integer to number', { type: 'integer' }, { type: 'number' }, true, false],
  ['narrow number to integer', { type: 'number' }, { type: 'integer' }, false, true],
  ['widen to a union of types', { type: 'string' }, { type: ['string', 'null'] }, true, false],
  ['change a type', { type: 'string' }, { type: 'number' }, false, false],
  ['add an enum value', { enum: ['new', 'paid'] }, { enum: ['new', 'paid', 'shipped'] }, true, false],
  ['remove an enum value', { enum: ['new', 'paid', 'shipped'] }, { enum: ['new', 'paid'] }, false, true],
  ['loosen a lower bound', { type: 'number', minimum: 10 }, { type: 'number', minimum: 0 }, true, false],
  [
    'tighten an upper bound',
    { type: 'number', maximum: 100 },
    { type: 'number', exclusiveMaximum: 100 },
    false,
    true,
  ],
  ['lengthen maxLength', { type: 'string', maxLength: 10 }, { type: 'string', maxLength: 20 }, true, false],
  [
    'add minItems',
    { type: 'array', items: { type: 'string' } },
    { type: 'array', items: { type: 'string' }, minItems: 1 },
    false,
    true,
  ],
  [
    'change items',
    { type: 'array', items: { type: 'string' } },
    { type: 'array', items: { type: 'number' } },
    false,
    false,
  ],
  ['add a pattern', { type: 'string' }, { type: 'string', pattern: '^a' }, false, true],
  [
    'change a pattern (undecidable)',
    { type: 'string', pattern: '^a' },
    { type: 'string', pattern: '^(a|b)' },
    false,
    false,
  ],
  ['add a format', { type: 'string' }, { type: 'string', format: 'email' }, false, true],
  [
    'anyOf gains a branch',
    { anyOf: [{ type: 'string' }] },
    { anyOf: [{ type: 'string' }, { type: 'number' }] },
    true,
    false,
  ],
  ['an unchanged schema', order(), order(), true, true],
];

describe('schema compatibility', () => {
  it.each(EVOLUTIONS)('%s', (_name, old, next, backward, forward) => {
    expect(checkCompatibility(next as never, [old as never], 'BACKWARD').length === 0).toBe(backward);
    expect(checkCompatibility(next as never, [old as never], 'FORWARD').length === 0).toBe(forward);
    expect(checkCompatibility(next as never, [old as never], 'FULL').length === 0).toBe(backward && forward);
    expect(checkCompatibility(next as never, [old as never], 'NONE')).toEqual([]);
  });

  it('names where and why, as JSON Pointers into the schema', () => {
    const withNote = (required: string[]) => order({ note: { type: 'string' } }, required) as never;
    expect(checkCompatibility(withNote(['id', 'note']), [withNote(['id'])], 'BACKWARD')).toEqual([
      {
        pointer: '/required',
        reason: 'BACKWARD against the latest version: requires "note", which values accepted before may lack',
      },
    ]);
    const reasons = checkCompatibility(
      order({ total: { type: 'string' } }) as never,
      [order() as never],
      'BACKWARD',
    );
    expect(reasons.map((r) => r.pointer)).toEqual(['/properties/total/type']);
  });

  it('a transitive mode checks every earlier version, the others only the latest', () => {
    const v1 = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
    const v2 = { type: 'object', properties: { a: { type: 'string' } } };
    const v3 = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
    const modes: [CompatibilityMode, number][] = [
      ['FORWARD', 0],
      ['FORWARD_TRANSITIVE', 0],
      ['BACKWARD', 1],
      ['BACKWARD_TRANSITIVE', 1],
    ];
    for (const [mode, count] of modes) expect(checkCompatibility(v3, [v1, v2], mode)).toHaveLength(count);
    // v3 forward against v1 holds, but against v2 too; v2 → v3 adds a requirement BACKWARD refuses, v1 would not.
    expect(checkCompatibility(v2, [v1], 'FORWARD_TRANSITIVE')).toHaveLength(1);
  });

  it('refuses what it cannot decide, and says so', () => {
    const reasons = accepts({ not: { type: 'string' } }, { type: 'number' });
    expect(reasons).toEqual([{ pointer: '/not', reason: 'a change to "not" cannot be decided' }]);
    expect(accepts({ type: 'string', pattern: '^b' }, { type: 'string', pattern: '^a' })[0].reason).toMatch(
      /cannot be decided/,
    );
    expect(accepts({ oneOf: [{ type: 'string' }, { type: 'number' }] }, { type: 'string' })[0].pointer).toBe(
      '/oneOf',
    );
  });

  it('is sound: whenever it says the new schema accepts everything the old did, values of the old validate under the new', () => {
    let compatiblePairs = 0;
    fc.assert(
      fc.property(
        schemaArbitrary.chain((old) => fc.tuple(fc.constant(old), evolve(old))),
        fc.integer(),
        ([old, next], seed) => {
          if (accepts(next, old).length > 0) return;
          compatiblePairs++;
          const validOld = createSchemaValidator(old);
          const validNew = createSchemaValidator(next);
          for (const value of fc.sample(valueArbitrary(old), { numRuns: 30, seed })) {
            if (!validOld(value)) continue;
            if (!validNew(value)) {
              throw new Error(
                `false "compatible": ${JSON.stringify(value)} fits ${JSON.stringify(old)} but not ${JSON.stringify(next)}`,
              );
            }
          }
        },
      ),
      { numRuns: 400 },
    );
    // The property meant something: many pairs were called compatible and checked.
    expect(compatiblePairs).toBeGreaterThan(80);
  });
});

// Schemas from the part of JSON Schema the checker reasons about.
type S = Record<string, unknown>;
const propNames = fc.constantFrom('a', 'b', 'c');
const leafSchema: fc.Arbitrary<S> = fc.oneof(
  fc.record({ type: fc.constantFrom('integer', 'number') }, { requiredKeys: ['type'] }).chain((s) =>
    fc
      .record(
        {
          minimum: fc.integer({ min: -5, max: 5 }),
          maximum: fc.integer({ min: 5, max: 20 }),
          multipleOf: fc.constantFrom(1, 2, 3),
        },
        { requiredKeys: [] },
      )
      .map((b) => ({ ...s, ...b })),
  ),
  fc
    .record(
      { minLength: fc.integer({ min: 0, max: 3 }), maxLength: fc.integer({ min: 3, max: 8 }) },
      { requiredKeys: [] },
    )
    .map((b) => ({ type: 'string', ...b })),
  fc.constantFrom<S>({ type: 'boolean' }, { type: 'null' }, { type: ['string', 'null'] }, {}),
  fc
    .uniqueArray(fc.constantFrom<unknown>('x', 'y', 1, 2, true, null), { minLength: 1, maxLength: 3 })
    .map((e) => ({ enum: e })),
);
const schemaArbitrary: fc.Arbitrary<S> = fc.letrec((tie) => ({
  schema: fc.oneof(
    { maxDepth: 2, depthIdentifier: 'schema' },
    leafSchema,
    tie('object'),
    tie('array'),
    tie('anyOf'),
  ),
  object: fc
    .tuple(
      fc.dictionary(propNames, tie('schema'), { maxKeys: 3 }),
      fc.uniqueArray(propNames, { maxLength: 2 }),
      fc.constantFrom<unknown>(undefined, false, true, { type: 'string' }),
    )
    .map(([properties, required, additionalProperties]) => ({
      type: 'object',
      properties,
      required,
      ...(additionalProperties === undefined ? {} : { additionalProperties }),
    })),
  array: fc
    .tuple(tie('schema'), fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }))
    .map(([items, minItems]) => ({
      type: 'array',
      items,
      ...(minItems === undefined ? {} : { minItems, maxItems: 4 }),
    })),
  anyOf: fc.array(leafSchema, { minLength: 2, maxLength: 3 }).map((anyOf) => ({ anyOf })),
})).schema as fc.Arbitrary<S>;

/** A nearby schema: the same with a few keywords widened, narrowed, dropped or replaced. */
function evolve(schema: S): fc.Arbitrary<S> {
  const mutateChild = (key: string, child: unknown) =>
    typeof child === 'object' && child !== null && !Array.isArray(child)
      ? evolve(child as S).map((c) => ({ ...schema, [key]: c }))
      : fc.constant(schema);
  const options: fc.Arbitrary<S>[] = [fc.constant(schema), schemaArbitrary];
  const drop = Object.keys(schema).filter((k) => k !== 'type');
  if (drop.length > 0)
    options.push(
      fc.constantFrom(...drop).map((k) => {
        const { [k]: _gone, ...rest } = schema;
        return rest;
      }),
    );
  if (typeof schema.minimum === 'number')
    options.push(fc.integer({ min: -8, max: 8 }).map((minimum) => ({ ...schema, minimum })));
  if (typeof schema.maxLength === 'number')
    options.push(fc.integer({ min: 0, max: 10 }).map((maxLength) => ({ ...schema, maxLength })));
  if (schema.type === 'integer') options.push(fc.constant({ ...schema, type: 'number' }));
  if (schema.type === 'number') options.push(fc.constant({ ...schema, type: 'integer' }));
  if (Array.isArray(schema.enum))
    options.push(
      fc
        .constantFrom<unknown>('x', 'z', 3)
        .map((v) => ({ ...schema, enum: [...new Set([...(schema.enum as unknown[]), v])] })),
    );
  if (schema.items) options.push(mutateChild('items', schema.items));
  if (schema.properties) {
    const props = schema.properties as Record<string, unknown>;
    options.push(
      fc
        .tuple(propNames, schemaArbitrary)
        .map(([name, s]) => ({ ...schema, properties: { ...props, [name]: s } })),
      fc
        .constantFrom<unknown>(undefined, false, true, { type: 'number' })
        .map((additionalProperties) => ({ ...schema, additionalProperties })),
      fc.uniqueArray(propNames, { maxLength: 3 }).map((required) => ({ ...schema, required })),
    );
    for (const [name, child] of Object.entries(props)) {
      options.push(evolve(child as S).map((c) => ({ ...schema, properties: { ...props, [name]: c } })));
    }
  }
  return fc.oneof(...options).map((s) => JSON.parse(JSON.stringify(s)));
}

/** Values shaped by a schema, most of them valid under it (the test keeps only those). */
function valueArbitrary(schema: unknown): fc.Arbitrary<unknown> {
  const any = fc.oneof(
    fc.integer({ min: -10, max: 25 }),
    fc.double({ min: -10, max: 25, noNaN: true }),
    fc.string({ maxLength: 9 }),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom('x', 'y', 1, 2),
  );
  if (typeof schema !== 'object' || schema === null) return any;
  const s = schema as S;
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  if (Array.isArray(s.anyOf)) return fc.oneof(...(s.anyOf as unknown[]).map(valueArbitrary));
  switch (s.type) {
    case 'integer':
      return fc.integer({ min: -10, max: 25 });
    case 'number':
      return fc.oneof(fc.integer({ min: -10, max: 25 }), fc.double({ min: -10, max: 25, noNaN: true }));
    case 'string':
      return fc.string({ maxLength: 9 });
    case 'array':
      return fc.array(valueArbitrary(s.items), { maxLength: 4 });
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const extra =
        s.additionalProperties === false
          ? fc.constant({})
          : fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), valueArbitrary(s.additionalProperties), {
              maxKeys: 2,
            });
      const declared = fc.record(
        Object.fromEntries(Object.entries(props).map(([k, v]) => [k, valueArbitrary(v)])),
        { requiredKeys: [] },
      );
      return fc.tuple(extra, declared).map(([e, d]) => ({ ...e, ...d }));
    }
    default:
      return any;
  }
}
