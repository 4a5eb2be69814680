import { InvalidRequestError } from '../errors';

/**
 * JSON as it was written. An event bus delivers the producer's bytes, so a
 * JSON value is stored as its own text, not re-serialized from a parsed copy
 * (which rounds integers beyond 2^53, turns 1e400 into null and collapses
 * duplicate member names). This parser validates a document strictly and
 * returns a tree of nodes that know where they sit in the text:
 *
 * - RFC 8259 grammar; no recursion, and at most `maxDepth` levels of nesting,
 *   so no document can overflow a stack here or anywhere it is read later;
 * - duplicate member names are refused at every depth (their meaning differs
 *   between parsers, so the bus cannot keep "the" value);
 * - only the first `retainDepth` levels become nodes; deeper ones are
 *   validated and left as text.
 */
export type JsonNode =
  | { readonly type: 'object'; readonly start: number; end: number; readonly members?: Map<string, JsonNode> }
  | { readonly type: 'array'; readonly start: number; end: number; readonly items?: JsonNode[] }
  | { readonly type: 'string'; readonly start: number; readonly end: number; readonly value: string }
  | { readonly type: 'number'; readonly start: number; readonly end: number }
  | { readonly type: 'boolean'; readonly start: number; readonly end: number; readonly value: boolean }
  | { readonly type: 'null'; readonly start: number; readonly end: number };

/** Levels of nesting a published JSON value may have: far more than any real event, far less than any stack. */
export const MAX_VALUE_DEPTH = 256;

/** JSON the bus cannot take as written: INVALID_REQUEST naming where. */
export class JsonTextError extends InvalidRequestError {}

export interface ParseOptions {
  /** Containers nested deeper than this are refused. */
  readonly maxDepth: number;
  /** Levels that become nodes (0: only the root); deeper values are validated only. @default maxDepth */
  readonly retainDepth?: number;
  /** What the text is, for messages: `The request body`. */
  readonly what?: string;
}

const WHITESPACE = /[ \t\n\r]*/y;
/** A run of string characters that need no attention: not a quote, a backslash or a control character. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what JSON strings may not hold raw.
const PLAIN = /[^"\\\u0000-\u001f]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

interface Frame {
  readonly node: Extract<JsonNode, { type: 'object' | 'array' }>;
  readonly retained: boolean;
  readonly keys?: Set<string>;
  key?: string;
}

/**
 * Parses `text` as one JSON document. Throws JsonTextError (400
 * INVALID_REQUEST) saying what is wrong and where.
 *
 * @example
 * const root = parseJsonText('{"a": 12345678901234567890}', { maxDepth: 8 });
 * textOf('{"a": 12345678901234567890}', (root as any).members.get('a')); // '12345678901234567890'
 */
export function parseJsonText(text: string, options: ParseOptions): JsonNode {
  const { maxDepth } = options;
  const retainDepth = options.retainDepth ?? maxDepth;
  const what = options.what ?? 'The JSON';
  let i = 0;
  const stack: Frame[] = [];
  const fail = (message: string): never => {
    throw new JsonTextError(`${what} is not valid JSON: ${message} at character ${i}.`);
  };
  const skipWhitespace = (): void => {
    WHITESPACE.lastIndex = i;
    WHITESPACE.test(text);
    i = WHITESPACE.lastIndex;
  };
  const readString = (keep: boolean): string => {
    // At the opening quote.
    i++;
    let value = '';
    for (;;) {
      PLAIN.lastIndex = i;
      PLAIN.test(text);
      if (keep) value += text.slice(i, PLAIN.lastIndex);
      i = PLAIN.lastIndex;
      const c = text[i];
      if (c === '"') {
        i++;
        return value;
      }
      if (c === undefined) fail('a string is not closed');
      if (c !== '\\') fail('a control character must be escaped in a string');
      const e = text[i + 1];
      if (e === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('\\u needs four hex digits');
        if (keep) value += String.fromCharCode(Number.parseInt(hex, 16));
        i += 6;
      } else {
        const escaped = ESCAPES[e];
        if (escaped === undefined) fail(`"\\${e ?? ''}" is not an escape`);
        if (keep) value += escaped;
        i += 2;
      }
    }
  };

  let result: JsonNode | undefined;
  // A value was completed: hand it to its container, or it is the document.
  const complete = (node: JsonNode | undefined): void => {
    const parent = stack[stack.length - 1];
    if (!parent) {
      result = node;
      return;
    }
    if (!parent.retained || node === undefined) return;
    if (parent.node.type === 'array') parent.node.items?.push(node);
    else parent.node.members?.set(parent.key as string, node);
  };
  const readKey = (frame: Frame): void => {
    skipWhitespace();
    if (text[i] !== '"') fail('a member name must be a string');
    const key = readString(true);
    if (frame.keys?.has(key)) {
      fail(`the member name ${JSON.stringify(key).slice(0, 100)} appears twice in one object`);
    }
    frame.keys?.add(key);
    frame.key = key;
    skipWhitespace();
    if (text[i] !== ':') fail('":" must follow a member name');
    i++;
  };

  value: for (;;) {
    skipWhitespace();
    const depth = stack.length;
    const keep = depth <= retainDepth;
    const start = i;
    const c = text[i];
    let node: JsonNode | undefined;
    if (c === '{' || c === '[') {
      if (depth >= maxDepth) fail(`values may nest at most ${maxDepth} levels`);
      i++;
      const container: Frame['node'] =
        c === '{'
          ? { type: 'object', start, end: -1, members: keep && depth < retainDepth ? new Map() : undefined }
          : { type: 'array', start, end: -1, items: keep && depth < retainDepth ? [] : undefined };
      const frame: Frame = { node: container, retained: keep, keys: c === '{' ? new Set() : undefined };
      stack.push(frame);
      skipWhitespace();
      if (text[i] === (c === '{' ? '}' : ']')) {
        i++;
        stack.pop();
        container.end = i;
        node = keep ? container : undefined;
      } else {
        if (c === '{') readKey(frame);
        continue;
      }
    } else if (c === '"') {
      const string = readString(keep);
      node = keep ? { type: 'string', start, end: i, value: string } : undefined;
    } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) fail('a number is malformed');
      i = NUMBER.lastIndex;
      node = keep ? { type: 'number', start, end: i } : undefined;
    } else if (text.startsWith('true', i) || text.startsWith('false', i)) {
      const truth = text.startsWith('true', i);
      i += truth ? 4 : 5;
      node = keep ? { type: 'boolean', start, end: i, value: truth } : undefined;
    } else if (text.startsWith('null', i)) {
      i += 4;
      node = keep ? { type: 'null', start, end: i } : undefined;
    } else {
      fail(c === undefined ? 'the text ends where a value should be' : `unexpected ${JSON.stringify(c)}`);
    }

    // After a value: a separator and the next value, or the end of one or more containers.
    for (;;) {
      complete(node);
      const frame = stack[stack.length - 1];
      skipWhitespace();
      if (!frame) {
        if (i !== text.length) fail('there is more after the document');
        return result as JsonNode;
      }
      const close = frame.node.type === 'object' ? '}' : ']';
      if (text[i] === ',') {
        i++;
        if (frame.node.type === 'object') readKey(frame);
        continue value;
      }
      if (text[i] !== close) fail(`"," or "${close}" expected`);
      i++;
      stack.pop();
      frame.node.end = i;
      node = frame.retained ? frame.node : undefined;
    }
  }
}

/**
 * A retained node as a plain JavaScript value, for fields the bus reads
 * (names, numbers, flags). Objects have a null prototype, so `__proto__` is
 * an ordinary member; numbers become doubles, so use `textOf` for a value
 * that must keep its digits.
 */
export function plainValue(text: string, node: JsonNode): unknown {
  switch (node.type) {
    case 'object': {
      const object: Record<string, unknown> = Object.create(null);
      for (const [name, member] of node.members ?? []) object[name] = plainValue(text, member);
      return object;
    }
    case 'array':
      return (node.items ?? []).map((item) => plainValue(text, item));
    case 'string':
    case 'boolean':
      return node.value;
    case 'number':
      return Number(textOf(text, node));
    case 'null':
      return null;
  }
}

/** The exact text of a node. */
export function textOf(text: string, node: JsonNode): string {
  return text.slice(node.start, node.end);
}

/** Whether `text` is one valid JSON document within `maxDepth` levels, without keeping any of it. */
export function isJsonText(text: string, maxDepth = MAX_VALUE_DEPTH): boolean {
  try {
    parseJsonText(text, { maxDepth, retainDepth: -1 });
    return true;
  } catch (error) {
    if (error instanceof JsonTextError) return false;
    throw error;
  }
}

/**
 * UTF-8 bytes as text, refusing bytes that are not UTF-8 (a lossy decoding
 * would replace them with U+FFFD and change the payload silently).
 */
export function utf8Text(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new InvalidRequestError(
      `${what} is not valid UTF-8; send UTF-8 text, or binary data base64-encoded.`,
    );
  }
}

/**
 * Throws INVALID_REQUEST unless a string can be stored as UTF-8 as it is: a
 * lone surrogate (say, from a JSON escape "\ud800") has no UTF-8 form.
 */
export function assertWellFormed(value: string, what: string): void {
  if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new InvalidRequestError(`${what} contains a lone surrogate, which UTF-8 cannot hold.`);
  }
}
