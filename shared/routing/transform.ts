import jsonata from 'jsonata';
import { InvalidRequestError } from '../errors';
import { LinearRegExp } from '../json/linear-regexp';

/** What a transform sees of one event (docs/api.md, Routing). */
export interface TransformInput {
  readonly key: string | null;
  readonly value: unknown;
  readonly headers: Readonly<Record<string, string>>;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: string;
}

/** A transform's outcome for one event: its value, or why it failed (the dead letter's error). */
export type TransformOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: string };

/** An expression that does not compile, refused when the subscription is declared. */
export class TransformError extends InvalidRequestError {
  constructor(
    message: string,
    readonly position?: number,
  ) {
    super(message);
  }
}

/**
 * What one evaluation may take. A transform runs inside the deliverer for
 * every matching event, so an expression that loops, recurses or builds a
 * huge value fails that event instead of stalling the partition.
 */
export const TRANSFORM_LIMITS = {
  maxExpressionLength: 4096,
  /** Per event; JSONata checks it at every step of the evaluation. */
  timeoutMs: 100,
  /** Nested evaluation steps (recursion). */
  maxDepth: 200,
  /** Items in any sequence or array built along the way, and characters in any string (in kibibytes × 1,024). */
  maxSequence: 100_000,
  maxStringLength: 256 * 1024,
  /** Bytes of the result as JSON: it becomes the value the target receives. */
  maxResultBytes: 256 * 1024,
} as const;

export interface CompileOptions {
  /** The field the expression came in, named by refusals. */
  readonly field?: string;
  /** Refuse `$now()`, `$millis()`, `$random()`: what a topic target's key needs (docs/adr/0020). */
  readonly deterministic?: boolean;
}

/** A transform's outcome as the JSON text of its value, the bytes a target receives. */
export type RenderedOutcome =
  | { readonly ok: true; readonly json: string }
  | { readonly ok: false; readonly error: string };

/** A compiled transform: `apply` (or `render`) is all that runs per event. */
export interface EventTransform {
  readonly expression: string;
  apply(input: TransformInput): Promise<TransformOutcome>;
  /** As `apply`, with the value as JSON text: what a delivered event carries, without parsing it back. */
  render(input: TransformInput): Promise<RenderedOutcome>;
}

const EXIT_HOOK = Symbol.for('jsonata.__evaluate_exit');

/**
 * Compiles a JSONata expression once per subscription. Regular expressions in
 * it run on RE2's linear-time engine (`LinearRegExp`), and are compiled here,
 * so one RE2 cannot run is refused now rather than failing every event later.
 * `field` names the expression in the messages (`target.key` for a topic target's key).
 *
 * @example
 * const transform = compileTransform('{"id": key, "total": value.total}');
 * await transform.apply({ key: 'o-1', value: { total: 3 }, headers: {}, topic: 'orders', partition: 0, offset: 7, timestamp: '…' });
 * // { ok: true, value: { id: 'o-1', total: 3 } }
 */
export function compileTransform(
  expression: string,
  { field = 'transform.jsonata', deterministic = false }: CompileOptions = {},
): EventTransform {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new TransformError(`${field} must be a non-empty JSONata expression`);
  }
  if (expression.length > TRANSFORM_LIMITS.maxExpressionLength) {
    throw new TransformError(`${field} is at most ${TRANSFORM_LIMITS.maxExpressionLength} characters`);
  }
  let compiled: jsonata.Expression;
  try {
    compiled = jsonata(expression, {
      timeout: TRANSFORM_LIMITS.timeoutMs,
      stack: TRANSFORM_LIMITS.maxDepth,
      sequence: TRANSFORM_LIMITS.maxSequence,
      RegexEngine: LinearRegExp,
    } as unknown as jsonata.JsonataOptions);
  } catch (error) {
    const { message, position } = error as { message?: string; position?: number };
    throw new TransformError(`${field} does not compile: ${message ?? String(error)}`, position);
  }
  const ast = compiled.ast();
  for (const source of astNodes(ast, (node): node is RegExp => node instanceof RegExp).map((r) => r.source)) {
    try {
      new LinearRegExp(source);
    } catch (error) {
      throw new TransformError(
        `${field}: the regular expression /${source}/ cannot be run in linear time (${(error as Error).message})`,
      );
    }
  }
  if (deterministic) {
    const chance = astNodes(ast, isVariable).find((node) => NONDETERMINISTIC.has(node.value));
    if (chance) {
      throw new TransformError(
        `${field} must give the same result every time it runs: $${chance.value}() does not, so a batch computed again after a crash could land elsewhere`,
        chance.position,
      );
    }
  }
  // Every step's result is checked as it is made: a string or array past the bounds stops the evaluation.
  compiled.assign(
    EXIT_HOOK as unknown as string,
    (_expr: unknown, _input: unknown, _env: unknown, result: unknown) => {
      if (typeof result === 'string' && result.length > TRANSFORM_LIMITS.maxStringLength) {
        throw {
          code: 'EVENTBUS_LIMIT',
          message: `a string passed ${TRANSFORM_LIMITS.maxStringLength} characters`,
        };
      }
      if (Array.isArray(result) && result.length > TRANSFORM_LIMITS.maxSequence) {
        throw { code: 'EVENTBUS_LIMIT', message: `an array passed ${TRANSFORM_LIMITS.maxSequence} items` };
      }
    },
  );
  // $pad allocates its whole width at once, before any step could see it.
  compiled.assign('pad', boundedPad);
  const render = async (input: TransformInput): Promise<RenderedOutcome> => {
    let value: unknown;
    try {
      value = await compiled.evaluate(input);
    } catch (error) {
      return { ok: false, error: `transform failed: ${describe(error)}` };
    }
    if (value === undefined) return { ok: false, error: 'transform yielded nothing for this event' };
    const json = JSON.stringify(value);
    if (json === undefined) return { ok: false, error: 'transform yielded a function, not a JSON value' };
    // A string's UTF-8 bytes are at most 3 per UTF-16 unit: only a result that may be over is counted.
    if (
      json.length * 3 > TRANSFORM_LIMITS.maxResultBytes &&
      Buffer.byteLength(json) > TRANSFORM_LIMITS.maxResultBytes
    ) {
      return {
        ok: false,
        error: `transform result is over ${TRANSFORM_LIMITS.maxResultBytes} bytes of JSON`,
      };
    }
    return { ok: true, json };
  };
  return {
    expression,
    render,
    async apply(input) {
      const outcome = await render(input);
      // Parsed back from its JSON: a plain value, without JSONata's sequence markers.
      return outcome.ok ? { ok: true, value: JSON.parse(outcome.json) } : outcome;
    },
  };
}

function boundedPad(text: string, width: number, char?: string): string | undefined {
  if (text === undefined) return undefined;
  if (Math.abs(width) > TRANSFORM_LIMITS.maxStringLength) {
    throw { code: 'EVENTBUS_LIMIT', message: `$pad width is at most ${TRANSFORM_LIMITS.maxStringLength}` };
  }
  const filler = char === undefined || char === '' ? ' ' : char;
  const missing = Math.abs(width) - [...text].length;
  if (missing <= 0) return text;
  const padding = filler.repeat(Math.ceil(missing / filler.length)).slice(0, missing);
  return width < 0 ? padding + text : text + padding;
}

function describe(error: unknown): string {
  const { message, position } = (error ?? {}) as { message?: string; position?: number };
  const text = message ?? String(error);
  return position === undefined ? text : `${text} (at character ${position})`;
}

/** JSONata's functions whose result changes from one evaluation to the next. */
const NONDETERMINISTIC = new Set(['now', 'millis', 'random']);

function isVariable(node: unknown): node is { type: 'variable'; value: string; position?: number } {
  return (node as { type?: unknown } | null)?.type === 'variable';
}

/** The nodes of an expression's syntax tree that `match` picks, wherever they sit. */
function astNodes<T>(node: unknown, match: (node: unknown) => node is T, found: T[] = []): T[] {
  if (match(node)) found.push(node);
  if (Array.isArray(node)) for (const child of node) astNodes(child, match, found);
  else if (typeof node === 'object' && node !== null && !(node instanceof RegExp))
    for (const child of Object.values(node)) astNodes(child, match, found);
  return found;
}
