import { z } from 'zod';
import { InvalidRequestError } from './errors';

/**
 * How the domain checks what it is given: each concept's zod schema (in the
 * module that owns the concept) is the one description of its rules, and
 * this is the one place a failed check becomes INVALID_REQUEST with a message
 * that says what to fix. The HTTP routes, the registrar and the CDK
 * construct's declarations all go through it; the OpenAPI document is
 * generated from the same schemas.
 */

/** Where a request's part was: named in messages about a whole part. */
export type InputPart = 'path' | 'query' | 'body';

/**
 * `input` checked against `schema`, or INVALID_REQUEST with the first problem, worded to say what to fix.
 *
 * @example
 * validate(TopicSettings, { partitions: 0, retentionHours: 24 }, 'body');
 * // throws INVALID_REQUEST: "partitions" must be an integer from 1 to 256.
 */
export function validate<S extends z.ZodType>(
  schema: S,
  input: unknown,
  part: InputPart = 'body',
): z.output<S> {
  if (part === 'body') refuseProtoMembers(input, [], part);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  // A misspelt field is the likeliest cause of the other problems (the field it meant is missing): name it first.
  const { issues } = result.error;
  const first = issues.find((issue) => issue.code === 'unrecognized_keys') ?? issues[0];
  throw new InvalidRequestError(describeIssue(schema, first, part), { cause: result.error });
}

/**
 * The rule an integer breaks, in one wording: `"batchSize" must be an integer from 1 to 1000`.
 *
 * @example
 * integerRule('"partitions"', 1, 256); // '"partitions" must be an integer from 1 to 256'
 */
export function integerRule(field: string, min: number, max: number): string {
  return `${field} must be an integer from ${min} to ${max}`;
}

/** An integer from `min` to `max` whose every failure reads `message` (by default, {@link integerRule}'s). */
export function integer(min: number, max: number, message?: string) {
  const error =
    message ?? ((issue: { path?: PropertyKey[] }) => `${integerRule(`"${where(issue.path)}"`, min, max)}.`);
  return z.int({ error }).min(min, { error }).max(max, { error });
}

/** `YYYY-MM-DD…` that Date.parse understands: the API's ISO-8601 check. */
export function isIsoDateTime(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(value));
}

/** A path in a body as messages write it: `acl[0].topics`. */
export function where(path: readonly PropertyKey[] | undefined = []): string {
  return (path ?? [])
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
}

/**
 * A member named `__proto__` is never a field of a request, and zod drops
 * it silently from records (say, `to.offsets`) rather than reporting it:
 * refuse it here, at any depth, so what the client sent is never half-read.
 */
function refuseProtoMembers(value: unknown, path: PropertyKey[], part: string): void {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) refuseProtoMembers(item, [...path, index], part);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (Object.hasOwn(value, '__proto__')) {
    const place = path.length === 0 ? `the ${part}` : `"${where(path)}"`;
    throw new InvalidRequestError(
      `Unknown field(s) "__proto__" in ${place}; no request of this API takes it.`,
    );
  }
  for (const [name, member] of Object.entries(value)) refuseProtoMembers(member, [...path, name], part);
}

function describeIssue(schema: z.ZodType, issue: z.core.$ZodIssue, part: InputPart): string {
  if (issue.code === 'unrecognized_keys') {
    const place = issue.path.length === 0 ? `the ${part}` : `"${where(issue.path)}"`;
    const known = knownFields(schema, issue.path);
    return (
      `Unknown field(s) ${issue.keys.map((k) => JSON.stringify(k.slice(0, 60))).join(', ')} in ${place}` +
      (known.length > 0 ? `; it takes ${known.map((k) => `"${k}"`).join(', ')}.` : '.')
    );
  }
  // Messages the schemas set say what to fix on their own; zod's defaults get the place they apply to.
  if (issue.message && !/^(Invalid|Expected|Too (big|small)|Unrecognized)/.test(issue.message))
    return issue.message;
  const place = issue.path.length > 0 ? `"${where(issue.path)}"` : `The ${part}`;
  return `${place}: ${issue.message}.`;
}

/** The member names the object schema at `path` takes, for an unknown-field message. */
function knownFields(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.ZodType | undefined = schema;
  for (const part of path) {
    node = unwrap(node);
    if (node instanceof z.ZodObject) node = node.shape[String(part)] as z.ZodType | undefined;
    else if (node instanceof z.ZodArray) node = node.element as z.ZodType;
    else return [];
  }
  node = unwrap(node);
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

function unwrap(node: z.ZodType | undefined): z.ZodType | undefined {
  while (node instanceof z.ZodOptional || node instanceof z.ZodNullable) node = node.unwrap() as z.ZodType;
  return node;
}
