/**
 * DynamoDB's item size rule, which decides what a write costs
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
 * the sum over attributes of the name's UTF-8 bytes plus the value's size —
 * strings their UTF-8 bytes, binary its raw bytes, numbers about one byte
 * per two significant digits plus one, booleans and null one byte, lists and
 * maps 3 bytes plus one per element plus their elements.
 */

/** Bytes in one write request unit (on-demand) or write capacity unit: 1 KB. */
export const WRITE_UNIT_BYTES = 1024;

/**
 * The size DynamoDB bills for an item, as the document client takes it
 * (numbers, strings, Uint8Array, booleans, null, arrays, plain objects, sets).
 *
 * @example
 * itemSize({ pk: 'orders#0', sk: 41 }); // 2 + 8 + 2 + 2 = 14
 */
export function itemSize(item: object): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    size += Buffer.byteLength(name, 'utf8') + valueSize(value);
  }
  return size;
}

/**
 * Write units one write of this item costs: 1 per started KB, at least 1.
 * A conditional write that fails costs the same.
 *
 * @example
 * writeUnits({ pk: 'orders#0', sk: 41, d: new Uint8Array(1010) }); // 1
 */
export function writeUnits(item: object): number {
  return Math.max(1, Math.ceil(itemSize(item) / WRITE_UNIT_BYTES));
}

function valueSize(value: unknown): number {
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number' || typeof value === 'bigint') return numberSize(String(value));
  if (value instanceof Uint8Array) return value.length;
  if (value instanceof Set) {
    let size = 0;
    for (const element of value) size += valueSize(element);
    return size;
  }
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, v) => sum + 1 + valueSize(v), 0);
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return 3 + entries.reduce((sum, [k, v]) => sum + 1 + Buffer.byteLength(k, 'utf8') + valueSize(v), 0);
  }
  throw new TypeError(`No DynamoDB size for a ${typeof value}`);
}

/** One byte per two significant digits (leading and trailing zeros trimmed), plus one. */
function numberSize(text: string): number {
  const digits = text
    .replace(/^-/, '')
    .replace(/e.*$/i, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}
