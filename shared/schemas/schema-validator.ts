import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { LinearRegExp } from '../json/linear-regexp';

/** Ajv's hook for the regular expressions of `pattern` and `patternProperties`: RE2's linear-time engine. */
const linearRegExp = Object.assign((pattern: string, flags: string) => new LinearRegExp(pattern, flags), {
  code: 'new LinearRegExp',
});

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
