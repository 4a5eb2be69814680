import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { InvalidRequestError } from '../errors';
import { LinearRegExp } from '../json/linear-regexp';

/** Ajv's hook for the regular expressions of `pattern` and `patternProperties`: RE2's linear-time engine. */
const linearRegExp = Object.assign((pattern: string, flags: string) => new LinearRegExp(pattern, flags), {
  code: 'new LinearRegExp',
});

export const SCHEMA_LIMITS = {
  /** Bytes of a schema as JSON: a schema is compiled into every API instance that publishes. */
  maxBytes: 64 * 1024,
  /** Versions a topic keeps; transitive checks read them all. */
  maxVersions: 1000,
} as const;

/**
 * One Ajv for JSON Schema draft 2020-12 as topics use it: formats checked,
 * every error reported for a refusal, no remote `$ref` (nothing is loaded),
 * and patterns that run in linear time, so no schema can stall an instance.
 */
function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: false, strict: false, code: { regExp: linearRegExp } });
  addFormats(ajv);
  return ajv;
}

let shared: Ajv2020 | undefined;

/** A validator for one schema; throws when the schema is not valid JSON Schema or names a remote `$ref`. */
export function createSchemaValidator(schema: unknown): ValidateFunction {
  shared ??= newAjv();
  const validate = shared.compile(schema as object);
  // Ajv keeps every compiled schema; the bus compiles many over a process's life and caches its own.
  shared.removeSchema(schema as object);
  return validate;
}

/**
 * Refuses what cannot serve as a topic's contract: over the size bound, not
 * JSON Schema 2020-12 (as Ajv compiles it), or naming a remote `$ref` — the
 * bus never loads a document from elsewhere.
 */
export function assertUsableSchema(schema: unknown): void {
  if (
    typeof schema !== 'boolean' &&
    (typeof schema !== 'object' || schema === null || Array.isArray(schema))
  ) {
    throw new InvalidRequestError('schema must be a JSON Schema: an object (or true / false).');
  }
  const text = JSON.stringify(schema);
  if (Buffer.byteLength(text) > SCHEMA_LIMITS.maxBytes) {
    throw new InvalidRequestError(`A schema is at most ${SCHEMA_LIMITS.maxBytes} bytes of JSON.`);
  }
  const remote = findRemoteRef(schema, '');
  if (remote) {
    throw new InvalidRequestError(
      `schema${remote.pointer}/$ref: "${remote.ref}" is remote; only local references ("#…") are allowed.`,
    );
  }
  try {
    createSchemaValidator(schema);
  } catch (error) {
    throw new InvalidRequestError(
      `schema is not valid JSON Schema (draft 2020-12): ${(error as Error).message}`,
    );
  }
}

function findRemoteRef(node: unknown, pointer: string): { pointer: string; ref: string } | undefined {
  if (typeof node !== 'object' || node === null) return undefined;
  for (const [key, value] of Object.entries(node)) {
    if ((key === '$ref' || key === '$dynamicRef') && typeof value === 'string' && !value.startsWith('#')) {
      return { pointer, ref: value };
    }
    const found = findRemoteRef(value, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`);
    if (found) return found;
  }
  return undefined;
}
