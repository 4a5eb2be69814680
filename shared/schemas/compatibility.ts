import { createSchemaValidator } from './schema-validator';

/**
 * Schema compatibility with Confluent Schema Registry's meanings
 * (docs/api.md, Schemas), decided over the structure of two JSON Schemas.
 *
 * Everything reduces to one question, `accepts(wider, narrower)`: does every
 * value `narrower` accepts also validate under `wider`? BACKWARD asks it of
 * (new, old), FORWARD of (old, new), FULL both; `_TRANSITIVE` modes ask it of
 * every earlier version. The answer is sound, not complete: where a keyword
 * cannot be decided structurally (`pattern`s that differ, `oneOf` on the
 * wider side, `not`, `$ref`, …) it answers "no" and says so, so a change is
 * never called compatible when it is not (docs/adr/0017-schema-compatibility.md).
 */

export const COMPATIBILITY_MODES = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;
export type CompatibilityMode = (typeof COMPATIBILITY_MODES)[number];

/** Why a change breaks compatibility: where (a JSON Pointer into the schemas) and what. */
export interface Incompatibility {
  readonly pointer: string;
  readonly reason: string;
}

export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

/**
 * The reasons a new schema breaks `mode` against the earlier versions (oldest
 * first); none when it is compatible.
 *
 * @example
 * checkCompatibility({ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
 *   [{ type: 'object', properties: { a: { type: 'string' } } }], 'BACKWARD');
 * // [{ pointer: '/required', reason: 'new requires "a", which old values may lack' }]
 */
export function checkCompatibility(
  schema: JsonSchema,
  earlier: readonly JsonSchema[],
  mode: CompatibilityMode,
): Incompatibility[] {
  if (mode === 'NONE' || earlier.length === 0) return [];
  const against = mode.endsWith('_TRANSITIVE') ? earlier : earlier.slice(-1);
  const backward = mode.startsWith('BACKWARD') || mode.startsWith('FULL');
  const forward = mode.startsWith('FORWARD') || mode.startsWith('FULL');
  const reasons: Incompatibility[] = [];
  against.forEach((old, i) => {
    const version =
      against.length === 1 ? 'the latest version' : `version ${earlier.length - against.length + i + 1}`;
    if (backward) {
      for (const r of accepts(schema, old))
        reasons.push({ ...r, reason: `BACKWARD against ${version}: ${r.reason}` });
    }
    if (forward) {
      for (const r of accepts(old, schema))
        reasons.push({ ...r, reason: `FORWARD against ${version}: ${r.reason}` });
    }
  });
  return reasons;
}

const JSON_TYPES = ['null', 'boolean', 'object', 'array', 'number', 'string'] as const;
type JsonType = (typeof JSON_TYPES)[number] | 'integer';

/** Keywords with no effect on which values validate. */
const ANNOTATIONS = new Set([
  '$schema',
  '$id',
  '$comment',
  '$anchor',
  'title',
  'description',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
  'contentMediaType',
  'contentEncoding',
  '$defs',
  'definitions',
]);

/** Keywords this checker reasons about; any other must be equal on both sides to be decided. */
const DECIDED = new Set([
  'type',
  'enum',
  'const',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'items',
  'minItems',
  'maxItems',
  'uniqueItems',
  'properties',
  'required',
  'additionalProperties',
  'minProperties',
  'maxProperties',
  'anyOf',
  'oneOf',
  'allOf',
]);

/**
 * Why `narrower` may accept a value that `wider` refuses, as pointers into
 * `wider`; an empty list means every value `narrower` accepts, `wider` does too.
 */
export function accepts(wider: JsonSchema, narrower: JsonSchema, pointer = ''): Incompatibility[] {
  if (wider === true || narrower === false || isEqual(wider, narrower)) return [];
  if (isEmptySchema(wider)) return [];
  if (wider === false) return [{ pointer, reason: 'accepts nothing here where values were accepted' }];
  const w = wider as Record<string, unknown>;
  const n: Record<string, unknown> = narrower === true ? {} : (narrower as Record<string, unknown>);

  // A narrower side that is a finite list of values: check each value itself, exactly.
  const listed = listedValues(n);
  if (listed) {
    const validate = createSchemaValidator(w);
    return listed
      .filter((value) => !validate(value))
      .map((value) => ({ pointer, reason: `the value ${JSON.stringify(value)} is no longer accepted` }));
  }

  // Combinators on the narrower side: narrower ⊆ its siblings, and narrower ⊆ the union of its branches.
  for (const combinator of ['anyOf', 'oneOf'] as const) {
    const branches = n[combinator];
    if (Array.isArray(branches)) {
      const siblings = accepts(w, without(n, combinator), pointer);
      if (siblings.length === 0) return [];
      const perBranch = branches.flatMap((branch) =>
        accepts(w, mergeInto(without(n, combinator), branch), pointer),
      );
      return perBranch.length === 0 ? [] : siblings;
    }
  }
  if (Array.isArray(n.allOf)) {
    // narrower is inside each of its allOf branches, so one branch inside wider is enough.
    const siblings = accepts(w, without(n, 'allOf'), pointer);
    if (siblings.length === 0) return [];
    if (n.allOf.some((branch) => accepts(w, mergeInto(without(n, 'allOf'), branch), pointer).length === 0))
      return [];
    return siblings;
  }

  const reasons: Incompatibility[] = [];
  // Combinators on the wider side.
  if (Array.isArray(w.allOf)) {
    w.allOf.forEach((branch, i) => {
      reasons.push(...accepts(branch as JsonSchema, n, `${pointer}/allOf/${i}`));
    });
  }
  if (Array.isArray(w.anyOf)) {
    const fits = w.anyOf.some((branch) => accepts(branch as JsonSchema, n).length === 0);
    if (!fits)
      reasons.push({
        pointer: `${pointer}/anyOf`,
        reason: 'no branch of anyOf accepts everything it used to',
      });
  }
  if (w.oneOf !== undefined && !isEqual(w.oneOf, n.oneOf)) {
    reasons.push({
      pointer: `${pointer}/oneOf`,
      reason: 'a changed oneOf cannot be decided (exactly one branch must match)',
    });
  }
  if (w.enum !== undefined || w.const !== undefined) {
    reasons.push({
      pointer: `${pointer}/${w.enum !== undefined ? 'enum' : 'const'}`,
      reason: 'limits values to a list that values accepted before are not limited to',
    });
  }
  for (const keyword of Object.keys(w)) {
    if (!DECIDED.has(keyword) && !ANNOTATIONS.has(keyword) && !isEqual(w[keyword], n[keyword])) {
      reasons.push({
        pointer: `${pointer}/${keyword}`,
        reason: `a change to "${keyword}" cannot be decided`,
      });
    }
  }

  const narrowTypes = typesOf(n);
  const wideTypes = typesOf(w);
  const lost = [...narrowTypes].filter((type) => !covers(wideTypes, type));
  if (lost.length > 0)
    reasons.push({ pointer: `${pointer}/type`, reason: `${lost.join(', ')} values are no longer accepted` });
  const has = (type: JsonType) => narrowTypes.has(type) && covers(wideTypes, type);
  if (has('number') || has('integer')) reasons.push(...numberBounds(w, n, pointer));
  if (has('string')) reasons.push(...stringBounds(w, n, pointer));
  if (has('array')) reasons.push(...arrayBounds(w, n, pointer));
  if (has('object')) reasons.push(...objectBounds(w, n, pointer));
  return reasons;
}

function numberBounds(
  w: Record<string, unknown>,
  n: Record<string, unknown>,
  pointer: string,
): Incompatibility[] {
  const reasons: Incompatibility[] = [];
  const wLow = lowerBound(w);
  const nLow = lowerBound(n);
  if (
    wLow &&
    (!nLow || nLow.value < wLow.value || (nLow.value === wLow.value && wLow.exclusive && !nLow.exclusive))
  ) {
    reasons.push({
      pointer: `${pointer}/${wLow.keyword}`,
      reason: `the lower bound ${wLow.value} refuses numbers accepted before`,
    });
  }
  const wHigh = upperBound(w);
  const nHigh = upperBound(n);
  if (
    wHigh &&
    (!nHigh ||
      nHigh.value > wHigh.value ||
      (nHigh.value === wHigh.value && wHigh.exclusive && !nHigh.exclusive))
  ) {
    reasons.push({
      pointer: `${pointer}/${wHigh.keyword}`,
      reason: `the upper bound ${wHigh.value} refuses numbers accepted before`,
    });
  }
  if (typeof w.multipleOf === 'number') {
    const divides =
      typeof n.multipleOf === 'number' && Number.isInteger(n.multipleOf / w.multipleOf)
        ? true
        : n.multipleOf === w.multipleOf;
    const integersOnly = Number.isInteger(w.multipleOf) && w.multipleOf === 1 && isIntegerOnly(n);
    if (!divides && !integersOnly) {
      reasons.push({
        pointer: `${pointer}/multipleOf`,
        reason: `multipleOf ${w.multipleOf} refuses numbers accepted before`,
      });
    }
  }
  return reasons;
}

function stringBounds(
  w: Record<string, unknown>,
  n: Record<string, unknown>,
  pointer: string,
): Incompatibility[] {
  const reasons = minMax(w, n, pointer, 'minLength', 'maxLength', 'strings');
  if (w.pattern !== undefined && w.pattern !== n.pattern) {
    reasons.push({ pointer: `${pointer}/pattern`, reason: 'a new or changed pattern cannot be decided' });
  }
  if (w.format !== undefined && w.format !== n.format) {
    reasons.push({
      pointer: `${pointer}/format`,
      reason: `format "${String(w.format)}" refuses strings accepted before`,
    });
  }
  return reasons;
}

function arrayBounds(
  w: Record<string, unknown>,
  n: Record<string, unknown>,
  pointer: string,
): Incompatibility[] {
  const reasons = minMax(w, n, pointer, 'minItems', 'maxItems', 'arrays');
  if (w.uniqueItems === true && n.uniqueItems !== true) {
    reasons.push({ pointer: `${pointer}/uniqueItems`, reason: 'uniqueItems refuses arrays accepted before' });
  }
  // Beside prefixItems, items covers only the later elements: take the narrower side as unconstrained there.
  const narrowItems = n.prefixItems === undefined ? schemaOr(n.items) : true;
  if (n.maxItems !== 0) reasons.push(...accepts(schemaOr(w.items), narrowItems, `${pointer}/items`));
  return reasons;
}

function objectBounds(
  w: Record<string, unknown>,
  n: Record<string, unknown>,
  pointer: string,
): Incompatibility[] {
  const reasons = minMax(w, n, pointer, 'minProperties', 'maxProperties', 'objects');
  const nRequired = new Set(Array.isArray(n.required) ? (n.required as string[]) : []);
  for (const name of Array.isArray(w.required) ? (w.required as string[]) : []) {
    if (!nRequired.has(name)) {
      reasons.push({
        pointer: `${pointer}/required`,
        reason: `requires "${name}", which values accepted before may lack`,
      });
    }
  }
  const wProps = (w.properties ?? {}) as Record<string, JsonSchema>;
  const nProps = (n.properties ?? {}) as Record<string, JsonSchema>;
  const wAdditional = schemaOr(w.additionalProperties);
  // Beside patternProperties, additionalProperties covers only the other names: take the narrower side as unconstrained.
  const nAdditional = n.patternProperties === undefined ? schemaOr(n.additionalProperties) : true;
  for (const name of new Set([...Object.keys(wProps), ...Object.keys(nProps)])) {
    const wide = Object.hasOwn(wProps, name) ? wProps[name] : wAdditional;
    const narrow = Object.hasOwn(nProps, name) ? nProps[name] : nAdditional;
    const at = Object.hasOwn(wProps, name)
      ? `${pointer}/properties/${escapePointer(name)}`
      : `${pointer}/additionalProperties`;
    reasons.push(...accepts(wide, narrow, at));
  }
  reasons.push(...accepts(wAdditional, nAdditional, `${pointer}/additionalProperties`));
  return reasons;
}

function minMax(
  w: Record<string, unknown>,
  n: Record<string, unknown>,
  pointer: string,
  min: string,
  max: string,
  what: string,
): Incompatibility[] {
  const reasons: Incompatibility[] = [];
  if (typeof w[min] === 'number' && !((n[min] as number) >= (w[min] as number))) {
    reasons.push({
      pointer: `${pointer}/${min}`,
      reason: `${min} ${w[min]} refuses ${what} accepted before`,
    });
  }
  if (typeof w[max] === 'number' && !((n[max] as number) <= (w[max] as number))) {
    reasons.push({
      pointer: `${pointer}/${max}`,
      reason: `${max} ${w[max]} refuses ${what} accepted before`,
    });
  }
  return reasons;
}

function lowerBound(s: Record<string, unknown>) {
  const inclusive = typeof s.minimum === 'number' ? s.minimum : undefined;
  const exclusive = typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum : undefined;
  if (exclusive !== undefined && (inclusive === undefined || exclusive >= inclusive)) {
    return { value: exclusive, exclusive: true, keyword: 'exclusiveMinimum' };
  }
  return inclusive === undefined ? undefined : { value: inclusive, exclusive: false, keyword: 'minimum' };
}

function upperBound(s: Record<string, unknown>) {
  const inclusive = typeof s.maximum === 'number' ? s.maximum : undefined;
  const exclusive = typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum : undefined;
  if (exclusive !== undefined && (inclusive === undefined || exclusive <= inclusive)) {
    return { value: exclusive, exclusive: true, keyword: 'exclusiveMaximum' };
  }
  return inclusive === undefined ? undefined : { value: inclusive, exclusive: false, keyword: 'maximum' };
}

/** The JSON types a schema lets through; `integer` stands alone only when `number` is not allowed. */
function typesOf(s: Record<string, unknown>): Set<JsonType> {
  if (s.type === undefined) return new Set(JSON_TYPES);
  const list = (Array.isArray(s.type) ? s.type : [s.type]) as JsonType[];
  return new Set(list);
}

function covers(types: Set<JsonType>, type: JsonType): boolean {
  return types.has(type) || (type === 'integer' && types.has('number'));
}

function isIntegerOnly(s: Record<string, unknown>): boolean {
  const types = typesOf(s);
  return !types.has('number') && types.has('integer');
}

/** The values a schema is limited to by `enum` or `const`, or undefined when it is not. */
function listedValues(s: Record<string, unknown>): unknown[] | undefined {
  if (Object.hasOwn(s, 'const')) return [s.const];
  if (Array.isArray(s.enum)) return s.enum;
  return undefined;
}

function isEmptySchema(s: JsonSchema): boolean {
  return typeof s === 'object' && Object.keys(s).every((k) => ANNOTATIONS.has(k));
}

function schemaOr(value: unknown): JsonSchema {
  return value === undefined ? true : (value as JsonSchema);
}

function without(s: Record<string, unknown>, keyword: string): Record<string, unknown> {
  const { [keyword]: _dropped, ...rest } = s;
  return rest;
}

/** A branch with its parent's sibling keywords, which also hold for the values it accepts. */
function mergeInto(siblings: Record<string, unknown>, branch: unknown): JsonSchema {
  if (branch === false) return false;
  if (branch === true) return siblings;
  const merged: Record<string, unknown> = { ...siblings };
  for (const [keyword, value] of Object.entries(branch as Record<string, unknown>)) {
    // Where both constrain the same keyword, keep the branch's only when the parent's is absent: sound, as the value must satisfy both.
    if (merged[keyword] === undefined) merged[keyword] = value;
    else merged.allOf = [...((merged.allOf as unknown[]) ?? []), { [keyword]: value }];
  }
  return merged;
}

function isEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    ka.every(
      (k) =>
        Object.hasOwn(b, k) && isEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
    )
  );
}

function escapePointer(name: string): string {
  return name.replaceAll('~', '~0').replaceAll('/', '~1');
}
