import { Validator } from '@cfworker/json-schema';

/** Where a value breaks its topic's schema, as the API names it: a JSON Pointer and what is wrong there. */
export interface SchemaViolation {
  readonly pointer: string;
  readonly message: string;
}

/**
 * The first place `value` breaks `schema` (JSON Schema draft 2020-12), or
 * undefined when it conforms. Loaded only when a topic has a schema: the
 * validator interprets the schema (no generated code, so the console's CSP
 * without 'unsafe-eval' allows it) and stays out of the main bundle.
 *
 * @example
 * firstViolation({ required: ['id'] }, {}); // { pointer: '', message: 'Instance does not have required property "id".' }
 */
export function firstViolation(schema: unknown, value: unknown): SchemaViolation | undefined {
  const result = new Validator(schema as object, '2020-12', true).validate(value);
  if (result.valid) return undefined;
  // The errors run from the outermost ("property … does not match") to the cause: the last is the one to show.
  const cause = result.errors[result.errors.length - 1];
  return { pointer: decodeURIComponent(cause.instanceLocation.replace(/^#/, '')), message: cause.error };
}
