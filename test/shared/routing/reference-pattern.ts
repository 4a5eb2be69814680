import { BlockList, isIP } from 'node:net';

/**
 * A second, naive evaluator of EventBridge patterns, written apart from
 * shared/routing/event-pattern.ts so the property test compares two readings
 * of the semantics: `$or` expanded into plain patterns first, string operators
 * as regular expressions, CIDR by Node's BlockList, and no precompilation.
 * It assumes a valid pattern (the matcher's own validation is tested apart).
 */
export function referenceMatches(pattern: Record<string, unknown>, event: unknown): boolean {
  return expandOr(pattern).some((plain) => matchesPlain(plain, event));
}

type Condition =
  | { readonly name: string; readonly list: unknown[] }
  | { readonly name: string; readonly nested: Condition[] };

/** Every `$or` replaced by each of its alternatives in turn: a list of conjunctions without `$or`. */
function expandOr(pattern: Record<string, unknown>): Condition[][] {
  let results: Condition[][] = [[]];
  for (const [name, value] of Object.entries(pattern)) {
    if (name === '$or') {
      const options = (value as Record<string, unknown>[]).flatMap(expandOr);
      results = results.flatMap((partial) => options.map((option) => [...partial, ...option]));
    } else if (Array.isArray(value)) {
      results = results.map((partial) => [...partial, { name, list: value }]);
    } else {
      const options = expandOr(value as Record<string, unknown>);
      results = results.flatMap((partial) => options.map((nested) => [...partial, { name, nested }]));
    }
  }
  return results;
}

function matchesPlain(conditions: Condition[], event: unknown): boolean {
  const object =
    typeof event === 'object' && event !== null && !Array.isArray(event)
      ? (event as Record<string, unknown>)
      : {};
  return conditions.every((condition) => {
    const value = Object.hasOwn(object, condition.name) ? object[condition.name] : undefined;
    if ('list' in condition) return matchesList(condition.list, value);
    if (Array.isArray(value)) {
      const elements = value.filter((e) => typeof e === 'object' && e !== null && !Array.isArray(e));
      if (elements.length === 0) return matchesPlain(condition.nested, undefined);
      return elements.some((e) => matchesPlain(condition.nested, e));
    }
    return matchesPlain(condition.nested, value);
  });
}

function leaves(value: unknown): unknown[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const element of value) out.push(...leaves(element));
    return out;
  }
  if (typeof value === 'object' && value !== null) return [];
  return [value];
}

function matchesList(list: unknown[], value: unknown): boolean {
  const found = leaves(value);
  return list.some((matcher) => {
    if (typeof matcher === 'object' && matcher !== null && 'exists' in matcher) {
      return (matcher as { exists: boolean }).exists ? found.length > 0 : found.length === 0;
    }
    return found.some((leaf) => matchesOne(matcher, leaf));
  });
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function matchesOne(matcher: unknown, leaf: unknown): boolean {
  if (typeof matcher !== 'object' || matcher === null) return matcher === leaf;
  const [operator, argument] = Object.entries(matcher)[0];
  const isString = typeof leaf === 'string';
  switch (operator) {
    case 'prefix':
      if (typeof argument === 'string')
        return isString && new RegExp(`^${escapeRegExp(argument)}`, 'su').test(leaf);
      return (
        isString &&
        leaf.toLowerCase().slice(0, ignoreCase(argument).length) === ignoreCase(argument).toLowerCase()
      );
    case 'suffix':
      if (typeof argument === 'string')
        return isString && new RegExp(`${escapeRegExp(argument)}$`, 'su').test(leaf);
      return (
        isString &&
        leaf.length >= ignoreCase(argument).length &&
        leaf.toLowerCase().slice(leaf.length - ignoreCase(argument).length) ===
          ignoreCase(argument).toLowerCase()
      );
    case 'equals-ignore-case':
      return isString && leaf.toLowerCase() === (argument as string).toLowerCase();
    case 'wildcard':
      return isString && wildcardRegExp(argument as string).test(leaf);
    case 'numeric':
      return typeof leaf === 'number' && numericHolds(argument as unknown[], leaf);
    case 'cidr':
      return isString && cidrHolds(argument as string, leaf);
    case 'anything-but':
      return anythingBut(argument, leaf);
    default:
      throw new Error(`reference: unknown operator ${operator}`);
  }
}

function ignoreCase(argument: unknown): string {
  return (argument as { 'equals-ignore-case': string })['equals-ignore-case'];
}

function wildcardRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    if (glob[i] === '\\') source += escapeRegExp(glob[++i]);
    else if (glob[i] === '*') source += '.*';
    else source += escapeRegExp(glob[i]);
  }
  return new RegExp(`^${source}$`, 'su');
}

function numericHolds(terms: unknown[], n: number): boolean {
  for (let i = 0; i < terms.length; i += 2) {
    const bound = terms[i + 1] as number;
    const ok = { '=': n === bound, '>': n > bound, '>=': n >= bound, '<': n < bound, '<=': n <= bound }[
      terms[i] as string
    ];
    if (!ok) return false;
  }
  return true;
}

function cidrHolds(cidr: string, address: string): boolean {
  const [network, bits] = cidr.split('/');
  const type = isIP(network) === 6 ? 'ipv6' : 'ipv4';
  if (isIP(address) !== isIP(network)) return false;
  const list = new BlockList();
  list.addSubnet(network, Number(bits), type);
  return list.check(address, type);
}

function anythingBut(argument: unknown, leaf: unknown): boolean {
  if (Array.isArray(argument)) return !argument.includes(leaf);
  if (typeof argument === 'object' && argument !== null) {
    const [operator, operands] = Object.entries(argument)[0];
    const list = Array.isArray(operands) ? operands : [operands];
    return !list.some((one) => matchesOne({ [operator]: one }, leaf));
  }
  return argument !== leaf;
}
