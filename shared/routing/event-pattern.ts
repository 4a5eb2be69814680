import { InvalidRequestError } from '../errors';

/**
 * EventBridge event patterns (docs/api.md, Routing), compiled once per
 * subscription into a matcher that runs per event without re-reading the
 * pattern. The semantics are EventBridge's (docs/adr/0016-event-patterns.md):
 *
 * - a pattern is an object; its fields must all match (AND); a field's value
 *   is either a nested pattern or a non-empty list of matchers (OR);
 * - `$or: [p1, p2, …]` beside other fields matches when any alternative does;
 * - matchers: exact strings, numbers (compared as numbers), `true`, `false`,
 *   `null`; `prefix` / `suffix` (a string, or `{"equals-ignore-case": s}`),
 *   `equals-ignore-case`, `wildcard` (`*`, escaped as `\*`, `\\`),
 *   `anything-but` (a value, a list of strings or of numbers, or
 *   `{prefix|suffix|equals-ignore-case|wildcard: string | string[]}`),
 *   `numeric` (`=`, or a lower and/or an upper bound), `exists`, `cidr`;
 * - operators apply to leaves: an array in the event matches when any of its
 *   elements does, and an object in the event is not a leaf (so
 *   `{"exists": false}` matches it, `{"exists": true}` does not);
 * - a nested pattern meets an array of objects element by element: one
 *   element must satisfy all of the nested fields (array consistency);
 * - a field the pattern names and the event lacks matches nothing but
 *   `{"exists": false}`; `anything-but` needs the field to be there.
 */

/** Where a pattern is wrong: `pointer` is the JSON Pointer of the offending part (`/value/total/0`). */
export class EventPatternError extends InvalidRequestError {
  constructor(
    readonly pointer: string,
    problem: string,
  ) {
    super(`filter${pointer}: ${problem}`);
  }
}

/** Bounds on what one subscription may ask of every event it reads. */
export const EVENT_PATTERN_LIMITS = {
  /** Bytes of the pattern as JSON: EventBridge's own rule limit is of this order. */
  maxBytes: 4096,
  /** Nesting of objects (and `$or`) below the top. */
  maxDepth: 10,
  /** Matchers in the whole pattern, counting each value of a list. */
  maxMatchers: 300,
  /** Characters of one string operand (a prefix, a wildcard, an exact value). */
  maxOperandLength: 1024,
} as const;

/** EventBridge compares numbers within ±5.0e9 with six digits after the point. */
const NUMERIC_BOUND = 5e9;

/** A compiled pattern: `matches` is all that runs per event. */
export interface EventMatcher {
  matches(event: unknown): boolean;
}

type Leaf = string | number | boolean | null;
type LeafTest = (value: Leaf) => boolean;

/** A list of matchers for one field: exact values looked up in sets, operators tried in turn. */
interface FieldMatchers {
  readonly strings: ReadonlySet<string>;
  readonly numbers: ReadonlySet<number>;
  readonly literals: ReadonlySet<boolean | null>;
  readonly tests: readonly LeafTest[];
  /** Whether `{"exists": true}` / `{"exists": false}` is among them. */
  readonly exists?: boolean;
  readonly absent?: boolean;
  /** `anything-but` matches only a field that is there; other tests need a leaf by nature. */
}

interface ObjectNode {
  readonly fields: readonly (readonly [string, FieldNode])[];
  readonly alternatives: readonly (readonly ObjectNode[])[];
}

type FieldNode =
  | { readonly kind: 'object'; readonly node: ObjectNode }
  | { readonly kind: 'leaf'; readonly matchers: FieldMatchers };

/**
 * Compiles and validates a pattern. Throws `EventPatternError` naming where it
 * is wrong; the result can be shared by every event the subscription reads.
 *
 * @example
 * const matcher = compileEventPattern({ value: { total: [{ numeric: ['>', 100] }] } });
 * matcher.matches({ key: null, value: { total: 120 }, headers: {} }); // true
 */
export function compileEventPattern(pattern: unknown): EventMatcher {
  const text = JSON.stringify(pattern);
  if (text === undefined || Buffer.byteLength(text) > EVENT_PATTERN_LIMITS.maxBytes) {
    throw new EventPatternError('', `a pattern is at most ${EVENT_PATTERN_LIMITS.maxBytes} bytes of JSON`);
  }
  const budget = { matchers: 0 };
  const root = compileObject(pattern, '', 0, budget);
  if (root.fields.length === 0 && root.alternatives.length === 0) {
    throw new EventPatternError('', 'a pattern names at least one field');
  }
  return { matches: (event) => matchObject(root, event) };
}

function compileObject(
  pattern: unknown,
  pointer: string,
  depth: number,
  budget: { matchers: number },
): ObjectNode {
  if (!isPlainObject(pattern)) throw new EventPatternError(pointer, 'must be an object');
  if (depth > EVENT_PATTERN_LIMITS.maxDepth) {
    throw new EventPatternError(pointer, `patterns nest at most ${EVENT_PATTERN_LIMITS.maxDepth} levels`);
  }
  const fields: (readonly [string, FieldNode])[] = [];
  const alternatives: ObjectNode[][] = [];
  for (const [name, value] of Object.entries(pattern)) {
    const at = `${pointer}/${escapePointer(name)}`;
    if (name === '$or') {
      if (!Array.isArray(value) || value.length < 2) {
        throw new EventPatternError(at, '$or takes a list of at least two patterns');
      }
      alternatives.push(
        value.map((alternative, i) => compileObject(alternative, `${at}/${i}`, depth + 1, budget)),
      );
    } else if (Array.isArray(value)) {
      fields.push([name, { kind: 'leaf', matchers: compileMatchers(value, at, budget) }]);
    } else if (isPlainObject(value)) {
      fields.push([name, { kind: 'object', node: compileObject(value, at, depth + 1, budget) }]);
    } else {
      throw new EventPatternError(at, 'a field takes a list of values to match or a nested pattern');
    }
  }
  return { fields, alternatives };
}

function compileMatchers(
  list: readonly unknown[],
  pointer: string,
  budget: { matchers: number },
): FieldMatchers {
  if (list.length === 0) throw new EventPatternError(pointer, 'a list of matchers cannot be empty');
  const strings = new Set<string>();
  const numbers = new Set<number>();
  const literals = new Set<boolean | null>();
  const tests: LeafTest[] = [];
  let exists: boolean | undefined;
  let absent: boolean | undefined;
  list.forEach((item, i) => {
    const at = `${pointer}/${i}`;
    budget.matchers += 1;
    if (budget.matchers > EVENT_PATTERN_LIMITS.maxMatchers) {
      throw new EventPatternError(at, `a pattern has at most ${EVENT_PATTERN_LIMITS.maxMatchers} matchers`);
    }
    if (typeof item === 'string') strings.add(operand(item, at));
    else if (typeof item === 'number') numbers.add(numericOperand(item, at));
    else if (item === null || typeof item === 'boolean') literals.add(item);
    else if (isPlainObject(item)) {
      const entries = Object.entries(item);
      if (entries.length !== 1) throw new EventPatternError(at, 'a matcher object has exactly one operator');
      const [operator, argument] = entries[0];
      const opAt = `${at}/${escapePointer(operator)}`;
      if (operator === 'exists') {
        if (typeof argument !== 'boolean') throw new EventPatternError(opAt, 'exists takes true or false');
        if (argument) exists = true;
        else absent = true;
      } else {
        tests.push(compileOperator(operator, argument, opAt));
      }
    } else {
      throw new EventPatternError(
        at,
        'a matcher is a string, number, true, false, null or an operator object',
      );
    }
  });
  return { strings, numbers, literals, tests, exists, absent };
}

function compileOperator(operator: string, argument: unknown, at: string): LeafTest {
  switch (operator) {
    case 'prefix':
    case 'suffix':
      return affixTest(operator, argument, at);
    case 'equals-ignore-case': {
      const wanted = foldCase(operand(argument, at));
      return (value) => typeof value === 'string' && foldCase(value) === wanted;
    }
    case 'wildcard':
      return wildcardTest(operand(argument, at), at);
    case 'numeric':
      return numericTest(argument, at);
    case 'cidr':
      return cidrTest(argument, at);
    case 'anything-but':
      return anythingButTest(argument, at);
    default:
      throw new EventPatternError(at, `unknown operator "${operator}"`);
  }
}

function affixTest(operator: 'prefix' | 'suffix', argument: unknown, at: string): LeafTest {
  const ignoreCase = isPlainObject(argument);
  let text: string;
  if (ignoreCase) {
    const entries = Object.entries(argument);
    if (entries.length !== 1 || entries[0][0] !== 'equals-ignore-case') {
      throw new EventPatternError(at, `${operator} takes a string or {"equals-ignore-case": string}`);
    }
    text = foldCase(operand(entries[0][1], `${at}/equals-ignore-case`));
  } else {
    text = operand(argument, at);
  }
  if (operator === 'prefix') {
    return ignoreCase
      ? (value) => typeof value === 'string' && foldCase(value).startsWith(text)
      : (value) => typeof value === 'string' && value.startsWith(text);
  }
  return ignoreCase
    ? (value) => typeof value === 'string' && foldCase(value).endsWith(text)
    : (value) => typeof value === 'string' && value.endsWith(text);
}

function anythingButTest(argument: unknown, at: string): LeafTest {
  if (isPlainObject(argument)) {
    const entries = Object.entries(argument);
    const operator = entries[0]?.[0];
    if (entries.length !== 1 || !['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(operator)) {
      throw new EventPatternError(
        at,
        'anything-but takes a value, a list, or {prefix|suffix|equals-ignore-case|wildcard: …}',
      );
    }
    const operands = entries[0][1];
    const inner = (Array.isArray(operands) ? operands : [operands]).map((one, i) =>
      compileOperator(
        operator,
        one,
        Array.isArray(operands) ? `${at}/${operator}/${i}` : `${at}/${operator}`,
      ),
    );
    if (inner.length === 0) throw new EventPatternError(`${at}/${operator}`, 'a list cannot be empty');
    return (value) => !inner.some((test) => test(value));
  }
  const values = Array.isArray(argument) ? argument : [argument];
  if (values.length === 0) throw new EventPatternError(at, 'anything-but cannot take an empty list');
  if (values.every((v) => typeof v === 'string')) {
    const excluded = new Set(values.map((v, i) => operand(v, Array.isArray(argument) ? `${at}/${i}` : at)));
    return (value) => !(typeof value === 'string' && excluded.has(value));
  }
  if (values.every((v) => typeof v === 'number')) {
    const excluded = new Set(
      values.map((v, i) => numericOperand(v, Array.isArray(argument) ? `${at}/${i}` : at)),
    );
    return (value) => !(typeof value === 'number' && excluded.has(value));
  }
  throw new EventPatternError(
    at,
    'anything-but takes a string, a number, or a list of only strings or only numbers',
  );
}

/**
 * `numeric`: `["=", n]`, or at most one lower bound (`>`, `>=`) and one upper
 * bound (`<`, `<=`), lower first or not, with the lower below the upper.
 */
function numericTest(argument: unknown, at: string): LeafTest {
  if (!Array.isArray(argument) || argument.length === 0 || argument.length % 2 !== 0 || argument.length > 4) {
    throw new EventPatternError(at, 'numeric takes ["=", n] or up to two [operator, number] pairs');
  }
  let lower: { value: number; inclusive: boolean } | undefined;
  let upper: { value: number; inclusive: boolean } | undefined;
  let equal: number | undefined;
  for (let i = 0; i < argument.length; i += 2) {
    const op = argument[i];
    const n = numericOperand(argument[i + 1], `${at}/${i + 1}`);
    if (op === '=' && argument.length === 2) equal = n;
    else if ((op === '>' || op === '>=') && !lower) lower = { value: n, inclusive: op === '>=' };
    else if ((op === '<' || op === '<=') && !upper) upper = { value: n, inclusive: op === '<=' };
    else
      throw new EventPatternError(
        `${at}/${i}`,
        `unexpected "${String(op)}": use "=" alone, or one of >, >= and one of <, <=`,
      );
  }
  if (equal !== undefined) {
    const n = equal;
    return (value) => typeof value === 'number' && value === n;
  }
  if (lower && upper && lower.value >= upper.value) {
    throw new EventPatternError(at, 'the lower bound must be below the upper bound');
  }
  return (value) =>
    typeof value === 'number' &&
    (!lower || (lower.inclusive ? value >= lower.value : value > lower.value)) &&
    (!upper || (upper.inclusive ? value <= upper.value : value < upper.value));
}

/**
 * `wildcard`: `*` stands for any run of characters; `\*` and `\\` are the
 * characters themselves. Two `*` in a row are refused, as EventBridge does.
 * Matched by the greedy two-pointer walk, which is O(value × pattern) at
 * worst: no regular expression, so no pattern can make it backtrack.
 */
function wildcardTest(pattern: string, at: string): LeafTest {
  const pieces: ({ star: true } | { star: false; char: string })[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next !== '*' && next !== '\\')
        throw new EventPatternError(at, 'in a wildcard, \\ escapes only * and \\');
      pieces.push({ star: false, char: next });
      i++;
    } else if (c === '*') {
      if (pieces.at(-1)?.star) throw new EventPatternError(at, 'a wildcard cannot have two * in a row');
      pieces.push({ star: true });
    } else {
      pieces.push({ star: false, char: c });
    }
  }
  return (value) => typeof value === 'string' && globMatches(pieces, value);
}

function globMatches(
  pieces: readonly ({ star: true } | { star: false; char: string })[],
  value: string,
): boolean {
  let p = 0;
  let v = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (v < value.length) {
    const piece = pieces[p];
    if (piece && !piece.star && piece.char === value[v]) {
      p++;
      v++;
    } else if (piece?.star) {
      starAt = p++;
      resumeAt = v;
    } else if (starAt >= 0) {
      p = starAt + 1;
      v = ++resumeAt;
    } else {
      return false;
    }
  }
  while (pieces[p]?.star) p++;
  return p === pieces.length;
}

function cidrTest(argument: unknown, at: string): LeafTest {
  const text = operand(argument, at);
  const slash = text.indexOf('/');
  const address = slash < 0 ? undefined : parseIp(text.slice(0, slash));
  const bits = slash < 0 ? Number.NaN : Number(text.slice(slash + 1));
  if (!address || !/^\d{1,3}$/.test(text.slice(slash + 1)) || bits > address.width) {
    throw new EventPatternError(at, 'cidr takes an IPv4 or IPv6 network such as "10.0.0.0/24"');
  }
  const shift = BigInt(address.width - bits);
  const network = address.value >> shift;
  return (value) => {
    if (typeof value !== 'string') return false;
    const ip = parseIp(value);
    return ip !== undefined && ip.width === address.width && ip.value >> shift === network;
  };
}

/** An IPv4 or IPv6 address as a number, or undefined when the text is not one. */
function parseIp(text: string): { value: bigint; width: 32 | 128 } | undefined {
  if (text.includes(':')) return parseIpv6(text);
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part) && Number(part) < 256)) {
    return undefined;
  }
  return { value: parts.reduce((acc, part) => (acc << 8n) | BigInt(part), 0n), width: 32 };
}

function parseIpv6(text: string): { value: bigint; width: 128 } | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string) => (half === '' ? [] : half.split(':'));
  let head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  // A trailing dotted IPv4 (::ffff:10.0.0.1) counts as two groups.
  const last = (halves.length === 2 ? tail : head).at(-1);
  let v4: bigint | undefined;
  if (last?.includes('.')) {
    const ip4 = parseIp(last);
    if (!ip4) return undefined;
    v4 = ip4.value;
    if (halves.length === 2) tail.pop();
    else head = head.slice(0, -1);
  }
  const width = head.length + tail.length + (v4 === undefined ? 0 : 2);
  if (halves.length === 1 ? width !== 8 : width > 7) return undefined;
  const all = [...head, ...Array<string>(8 - width).fill('0'), ...tail];
  if (!all.every((group) => /^[0-9a-fA-F]{1,4}$/.test(group))) return undefined;
  let value = all.reduce((acc, group) => (acc << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
  if (v4 !== undefined) value = (value << 32n) | v4;
  return { value, width: 128 };
}

function matchObject(node: ObjectNode, event: unknown): boolean {
  const object = isPlainObject(event) ? event : undefined;
  for (const [name, field] of node.fields) {
    const value = object && Object.hasOwn(object, name) ? object[name] : undefined;
    if (!matchField(field, value)) return false;
  }
  return node.alternatives.every((alternatives) =>
    alternatives.some((alternative) => matchObject(alternative, event)),
  );
}

function matchField(field: FieldNode, value: unknown): boolean {
  if (field.kind === 'object') {
    // A nested pattern meets an array of objects one element at a time (array consistency).
    if (Array.isArray(value)) {
      const objects = value.filter(isPlainObject);
      return objects.length > 0
        ? objects.some((element) => matchObject(field.node, element))
        : matchObject(field.node, undefined);
    }
    return matchObject(field.node, value);
  }
  const leaves = leavesOf(value);
  const m = field.matchers;
  if (leaves.length === 0) return m.absent === true;
  if (m.exists) return true;
  return leaves.some(
    (leaf) =>
      (typeof leaf === 'string'
        ? m.strings.has(leaf)
        : typeof leaf === 'number'
          ? m.numbers.has(leaf)
          : m.literals.has(leaf)) || m.tests.some((test) => test(leaf)),
  );
}

/** The leaf values at a place in the event: none when it is missing or an object; each element of an array. */
function leavesOf(value: unknown): Leaf[] {
  if (value === undefined || isPlainObject(value)) return [];
  if (Array.isArray(value)) return value.flatMap(leavesOf);
  return [value as Leaf];
}

function operand(value: unknown, at: string): string {
  if (typeof value !== 'string') throw new EventPatternError(at, 'takes a string');
  if (value.length > EVENT_PATTERN_LIMITS.maxOperandLength) {
    throw new EventPatternError(
      at,
      `a string operand is at most ${EVENT_PATTERN_LIMITS.maxOperandLength} characters`,
    );
  }
  return value;
}

function numericOperand(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > NUMERIC_BOUND) {
    throw new EventPatternError(at, `takes a number between -${NUMERIC_BOUND} and ${NUMERIC_BOUND}`);
  }
  return value;
}

/** Case-insensitive comparison as EventBridge does it: by Unicode lower case. */
function foldCase(text: string): string {
  return text.toLowerCase();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function escapePointer(name: string): string {
  return name.replaceAll('~', '~0').replaceAll('/', '~1');
}
