import fc from 'fast-check';
import { compileEventPattern, EventPatternError } from '../../../shared/routing/event-pattern';
import { referenceMatches } from './reference-pattern';

const matches = (pattern: Record<string, unknown>, event: unknown) =>
  compileEventPattern(pattern).matches(event);

/**
 * EventBridge's documentation, example by example (user guide: "Comparison
 * operators for use in event patterns", "Content filtering", "Arrays",
 * "Matching null values and empty strings"): each row is a pattern, an event
 * and what EventBridge says it does.
 */
const DOCUMENTED: [string, Record<string, unknown>, unknown, boolean][] = [
  [
    'and: every field',
    { Location: ['New York'], Day: ['Monday'] },
    { Location: 'New York', Day: 'Monday' },
    true,
  ],
  [
    'and: one field differs',
    { Location: ['New York'], Day: ['Monday'] },
    { Location: 'New York', Day: 'Friday' },
    false,
  ],
  ['exact values are an OR', { source: ['aws.ec2', 'aws.fargate'] }, { source: 'aws.fargate' }, true],
  ['exact match is case-sensitive', { Name: ['Alice'] }, { Name: 'alice' }, false],
  ['anything-but a string', { state: [{ 'anything-but': 'initializing' }] }, { state: 'running' }, true],
  [
    'anything-but the same string',
    { state: [{ 'anything-but': 'initializing' }] },
    { state: 'initializing' },
    false,
  ],
  ['anything-but a number', { 'x-limit': [{ 'anything-but': 123 }] }, { 'x-limit': 124 }, true],
  ['anything-but the same number', { 'x-limit': [{ 'anything-but': 123 }] }, { 'x-limit': 123 }, false],
  [
    'anything-but a list of strings',
    { state: [{ 'anything-but': ['stopped', 'overloaded'] }] },
    { state: 'stopped' },
    false,
  ],
  [
    'anything-but a list of numbers',
    { 'x-limit': [{ 'anything-but': [100, 200, 300] }] },
    { 'x-limit': 250 },
    true,
  ],
  [
    'anything-but a prefix',
    { Region: [{ 'anything-but': { prefix: 'us-' } }] },
    { Region: 'eu-west-1' },
    true,
  ],
  [
    'anything-but a prefix, matched',
    { Region: [{ 'anything-but': { prefix: 'us-' } }] },
    { Region: 'us-east-1' },
    false,
  ],
  [
    'anything-but a suffix',
    { FileName: [{ 'anything-but': { suffix: '.png' } }] },
    { FileName: 'photo.png' },
    false,
  ],
  [
    'anything-but ignoring case',
    { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] },
    { state: 'INITIALIZING' },
    false,
  ],
  [
    'anything-but a wildcard',
    { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] },
    { FilePath: '/app/lib/x.js' },
    false,
  ],
  [
    'anything-but a wildcard, other path',
    { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] },
    { FilePath: '/app/src/x.js' },
    true,
  ],
  ['anything-but needs the field', { state: [{ 'anything-but': 'initializing' }] }, {}, false],
  ['prefix', { time: [{ prefix: '2017-10-02' }] }, { time: '2017-10-02T18:43:48Z' }, true],
  ['prefix, other day', { time: [{ prefix: '2017-10-02' }] }, { time: '2017-10-03T18:43:48Z' }, false],
  ['prefix matches only strings', { n: [{ prefix: '12' }] }, { n: 123 }, false],
  [
    'prefix ignoring case',
    { service: [{ prefix: { 'equals-ignore-case': 'eventb' } }] },
    { service: 'EventBridge' },
    true,
  ],
  ['suffix', { FileName: [{ suffix: '.png' }] }, { FileName: 'image.png' }, true],
  [
    'suffix ignoring case',
    { service: [{ suffix: { 'equals-ignore-case': 'tbridge' } }] },
    { service: 'EVENTBRIDGE' },
    true,
  ],
  ['equals-ignore-case', { Name: [{ 'equals-ignore-case': 'alice' }] }, { Name: 'ALICE' }, true],
  ['empty string', { LastName: [''] }, { LastName: '' }, true],
  ['empty string is not null', { eventVersion: [''] }, { eventVersion: null }, false],
  ['null', { responseElements: [null] }, { responseElements: null }, true],
  ['null is not a missing field', { responseElements: [null] }, {}, false],
  ['null is not the empty string', { responseElements: [null] }, { responseElements: '' }, false],
  ['booleans', { enabled: [true] }, { enabled: true }, true],
  ['true is not the string', { enabled: [true] }, { enabled: 'true' }, false],
  ['numbers are compared as numbers', { 'x-limit': [300.0] }, { 'x-limit': 3.0e2 }, true],
  ['a number is not its string', { 'x-limit': [300] }, { 'x-limit': '300' }, false],
  ['numeric range', { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'c-count': 5 }, true],
  ['numeric range, above', { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'c-count': 5.5 }, false],
  [
    'numeric range, at the open end',
    { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] },
    { 'c-count': 0 },
    false,
  ],
  ['numeric upper bound', { 'd-count': [{ numeric: ['<', 10] }] }, { 'd-count': -3 }, true],
  ['numeric equality', { 'x-limit': [{ numeric: ['=', 3.018e2] }] }, { 'x-limit': 301.8 }, true],
  ['numeric needs a number', { 'x-limit': [{ numeric: ['=', 3] }] }, { 'x-limit': '3' }, false],
  ['cidr IPv4', { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] }, { sourceIPAddress: '10.0.0.24' }, true],
  [
    'cidr IPv4, outside',
    { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] },
    { sourceIPAddress: '10.0.1.1' },
    false,
  ],
  [
    'cidr IPv6',
    { sourceIPAddress: [{ cidr: '2001:db8::/32' }] },
    { sourceIPAddress: '2001:db8:0:1::5' },
    true,
  ],
  [
    'cidr IPv6, outside',
    { sourceIPAddress: [{ cidr: '2001:db8::/32' }] },
    { sourceIPAddress: '2001:db9::1' },
    false,
  ],
  [
    'exists false on a missing field',
    { detail: { 'c-count': [{ exists: false }] } },
    { detail: { state: 'x' } },
    true,
  ],
  [
    'exists false on an object (not a leaf)',
    { detail: { 'c-count': [{ exists: false }] } },
    { detail: { 'c-count': { c1: 100 } } },
    true,
  ],
  [
    'exists false on a value',
    { detail: { 'c-count': [{ exists: false }] } },
    { detail: { 'c-count': 1 } },
    false,
  ],
  ['exists true', { detail: { description: [{ exists: true }] } }, { detail: { description: 'x' } }, true],
  [
    'exists true on an object (not a leaf)',
    { detail: { description: [{ exists: true }] } },
    { detail: { description: {} } },
    false,
  ],
  [
    'exists true on null (a value)',
    { detail: { description: [{ exists: true }] } },
    { detail: { description: null } },
    true,
  ],
  [
    'wildcard',
    { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] },
    { EventBusArn: 'arn:aws:events:us-east-1:123:event-bus/orders' },
    true,
  ],
  [
    'wildcard, other region',
    { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] },
    { EventBusArn: 'arn:aws:events:eu-west-1:123:event-bus/x' },
    false,
  ],
  ['wildcard with an escaped star', { name: [{ wildcard: 'a\\*b' }] }, { name: 'a*b' }, true],
  ['wildcard with an escaped star, no star', { name: [{ wildcard: 'a\\*b' }] }, { name: 'axb' }, false],
  [
    '$or of fields',
    { $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }] },
    { 'd-count': 3 },
    true,
  ],
  [
    '$or, neither',
    { $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }] },
    { 'c-count': 9, 'd-count': 30 },
    false,
  ],
  [
    '$or beside a field',
    { source: ['aws.ec2'], $or: [{ state: ['running'] }, { state: ['pending'] }] },
    { source: 'aws.s3', state: 'running' },
    false,
  ],
  [
    'arrays: intersection of the pattern and the event',
    { resources: ['arn:1', 'arn:2'] },
    { resources: ['arn:0', 'arn:2'] },
    true,
  ],
  ['arrays: no common element', { resources: ['arn:1'] }, { resources: ['arn:0', 'arn:2'] }, false],
  ['arrays: anything-but on any element', { tags: [{ 'anything-but': 'a' }] }, { tags: ['a', 'b'] }, true],
  [
    'arrays of objects: one element meets the nested fields',
    { items: { sku: ['a'], qty: [{ numeric: ['>', 5] }] } },
    {
      items: [
        { sku: 'a', qty: 1 },
        { sku: 'b', qty: 10 },
      ],
    },
    false,
  ],
  [
    'arrays of objects: an element that meets both',
    { items: { sku: ['a'], qty: [{ numeric: ['>', 5] }] } },
    {
      items: [
        { sku: 'b', qty: 10 },
        { sku: 'a', qty: 6 },
      ],
    },
    true,
  ],
  [
    "the bus's own example",
    { headers: { ce_type: ['order.created'] }, value: { total: [{ numeric: ['>', 100] }] } },
    { key: 'o-1', value: { total: 120 }, headers: { ce_type: 'order.created' } },
    true,
  ],
];

describe('event patterns', () => {
  it.each(DOCUMENTED)('%s', (_name, pattern, event, expected) => {
    expect(matches(pattern, event)).toBe(expected);
    // The reference evaluator reads the documentation the same way.
    expect(referenceMatches(pattern, event)).toBe(expected);
  });

  it('agrees with the reference evaluator on random patterns and events', () => {
    fc.assert(
      fc.property(patternArbitrary, eventArbitrary, (pattern, event) => {
        expect(compileEventPattern(pattern).matches(event)).toBe(referenceMatches(pattern, event));
      }),
      { numRuns: 3000 },
    );
  });

  it('matches some and misses some of the random cases, so the agreement means something', () => {
    const outcomes = fc
      .sample(fc.tuple(patternArbitrary, eventArbitrary), { numRuns: 2000, seed: 7 })
      .map(([pattern, event]) => matches(pattern, event));
    expect(outcomes.filter(Boolean).length).toBeGreaterThan(100);
    expect(outcomes.filter((m) => !m).length).toBeGreaterThan(100);
  });

  it.each([
    ['a non-object', 'x', ''],
    ['an empty pattern', {}, ''],
    ['a field with a scalar', { a: 'x' }, '/a'],
    ['an empty list', { a: [] }, '/a'],
    ['an unknown operator', { a: [{ contains: 'x' }] }, '/a/0/contains'],
    ['two operators in one object', { a: [{ prefix: 'x', suffix: 'y' }] }, '/a/0'],
    ['prefix of a number', { a: [{ prefix: 1 }] }, '/a/0/prefix'],
    [
      'numeric with a bad operator',
      { value: { total: [{ numeric: ['>', 1, '>', 2] }] } },
      '/value/total/0/numeric/2',
    ],
    ['numeric with crossed bounds', { a: [{ numeric: ['>', 5, '<', 1] }] }, '/a/0/numeric'],
    ['numeric out of range', { a: [{ numeric: ['<', 1e10] }] }, '/a/0/numeric/1'],
    ['anything-but of mixed types', { a: [{ 'anything-but': ['x', 1] }] }, '/a/0/anything-but'],
    [
      'anything-but of an unknown operator',
      { a: [{ 'anything-but': { numeric: ['>', 1] } }] },
      '/a/0/anything-but',
    ],
    ['a wildcard with two stars in a row', { a: [{ wildcard: 'a**b' }] }, '/a/0/wildcard'],
    ['a cidr without a prefix length', { a: [{ cidr: '10.0.0.1' }] }, '/a/0/cidr'],
    ['a cidr prefix too long', { a: [{ cidr: '10.0.0.0/33' }] }, '/a/0/cidr'],
    ['exists of a string', { a: [{ exists: 'yes' }] }, '/a/0/exists'],
    ['$or of one pattern', { $or: [{ a: ['x'] }] }, '/$or'],
    ['a field name with a slash', { 'a/b': [{ exists: 'no' }] }, '/a~1b/0/exists'],
  ])('refuses %s, saying where', (_name, pattern, pointer) => {
    let error: unknown;
    try {
      compileEventPattern(pattern);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EventPatternError);
    expect((error as EventPatternError).pointer).toBe(pointer);
    expect((error as EventPatternError).message).toMatch(/^filter/);
  });

  it('bounds the size, depth and number of matchers of a pattern', () => {
    expect(() => compileEventPattern({ a: ['x'.repeat(5000)] })).toThrow(/at most 4096 bytes/);
    let deep: Record<string, unknown> = { a: ['x'] };
    for (let i = 0; i < 12; i++) deep = { n: deep };
    expect(() => compileEventPattern(deep)).toThrow(/nest at most/);
    expect(() => compileEventPattern({ a: Array.from({ length: 400 }, (_, i) => i) })).toThrow(
      /at most 300 matchers/,
    );
  });

  it('a hostile wildcard stays linear in the value', () => {
    // A backtracking matcher takes exponential steps on this; the two-pointer walk does not.
    const matcher = compileEventPattern({ a: [{ wildcard: `${'*a'.repeat(40)}*b` }] });
    expect(matcher.matches({ a: 'a'.repeat(10_000) })).toBe(false);
  });
});

// Small vocabularies so that random patterns and events meet often.
const names = fc.constantFrom('a', 'b', 'c');
const words = fc.constantFrom(
  '',
  'x',
  'X',
  'xy',
  'xY',
  'yx',
  'a*b',
  'a\\b',
  'order.created',
  'ORDER.created',
);
const numbers = fc.constantFrom(0, 1, -1, 2.5, 100, 1e3);
const ips = fc.constantFrom(
  '10.0.0.1',
  '10.0.1.9',
  '192.168.1.1',
  '2001:db8::1',
  '2001:db9::1',
  '::ffff:10.0.0.1',
);
const leafValue = fc.oneof(words, numbers, ips, fc.constantFrom(true, false, null));
const eventValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'event' },
    leafValue,
    fc.array(fc.oneof(leafValue, tie('object')), { maxLength: 3 }),
    tie('object'),
  ),
  object: fc.dictionary(names, tie('value'), { maxKeys: 3 }),
})).value;
const eventArbitrary = fc.dictionary(names, eventValue, { minKeys: 2, maxKeys: 3 });

const wildcardPattern = fc.constantFrom('*', 'x*', '*y', 'x*y', 'a\\*b', '*.created', '');
const stringOperand = fc.oneof(
  words.filter((w) => !w.includes('\\')),
  fc.constant('x'),
);
const matcher: fc.Arbitrary<unknown> = fc.oneof(
  leafValue,
  stringOperand.map((s) => ({ prefix: s })),
  stringOperand.map((s) => ({ suffix: s })),
  stringOperand.map((s) => ({ prefix: { 'equals-ignore-case': s } })),
  stringOperand.map((s) => ({ suffix: { 'equals-ignore-case': s } })),
  stringOperand.map((s) => ({ 'equals-ignore-case': s })),
  wildcardPattern.map((w) => ({ wildcard: w })),
  fc
    .oneof(
      words,
      numbers,
      fc.array(words, { minLength: 1, maxLength: 3 }),
      fc.array(numbers, { minLength: 1, maxLength: 3 }),
      stringOperand.map((s) => ({ prefix: s })),
      fc.array(stringOperand, { minLength: 1, maxLength: 2 }).map((s) => ({ suffix: s })),
      stringOperand.map((s) => ({ 'equals-ignore-case': s })),
      wildcardPattern.map((w) => ({ wildcard: w })),
    )
    .map((argument) => ({ 'anything-but': argument })),
  fc.constantFrom(
    { numeric: ['>', 0] },
    { numeric: ['>=', 1, '<', 100] },
    { numeric: ['<=', 2.5] },
    { numeric: ['=', 100] },
    { numeric: ['>', -5, '<=', 0] },
  ),
  fc.constantFrom(
    { cidr: '10.0.0.0/24' },
    { cidr: '10.0.0.0/8' },
    { cidr: '2001:db8::/32' },
    { cidr: '::ffff:10.0.0.0/120' },
  ),
  fc.boolean().map((exists) => ({ exists })),
);
const patternArbitrary: fc.Arbitrary<Record<string, unknown>> = fc.letrec((tie) => ({
  pattern: fc
    .tuple(
      fc.dictionary(
        names,
        fc.oneof(
          { maxDepth: 2, depthIdentifier: 'pattern' },
          fc.array(matcher, { minLength: 1, maxLength: 3 }),
          tie('pattern'),
        ),
        {
          maxKeys: 2,
        },
      ),
      fc.option(fc.array(tie('pattern'), { minLength: 2, maxLength: 2 }), {
        freq: 4,
        depthSize: 'small',
        maxDepth: 1,
        depthIdentifier: 'pattern',
      }),
    )
    .map(([fields, or]) => (or ? { ...fields, $or: or } : fields))
    .filter((p) => Object.keys(p).length > 0),
})).pattern as fc.Arbitrary<Record<string, unknown>>;
