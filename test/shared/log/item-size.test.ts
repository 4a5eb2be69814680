import { itemSize, writeUnits } from '../../../shared/log/item-size';

describe('itemSize, by the rule DynamoDB bills writes by', () => {
  test('counts attribute names and string values in UTF-8 bytes', () => {
    expect(itemSize({ pk: 'orders#0' })).toBe(2 + 8);
    expect(itemSize({ name: 'Chloé' })).toBe(4 + 6);
  });

  test('counts binary values raw, not base64', () => {
    expect(itemSize({ d: new Uint8Array(1000) })).toBe(1 + 1000);
  });

  test('counts a number as one byte per two significant digits plus one', () => {
    expect(itemSize({ sk: 7 })).toBe(2 + 2);
    expect(itemSize({ sk: 1234 })).toBe(2 + 3);
    expect(itemSize({ ts: 1_764_576_000_123 })).toBe(2 + 8);
    // Trailing and leading zeros are trimmed
    expect(itemSize({ n: 1_000_000 })).toBe(1 + 2);
    expect(itemSize({ n: 0.5 })).toBe(1 + 2);
  });

  test('counts booleans and null as one byte, and maps and lists with their overhead', () => {
    expect(itemSize({ ok: true, no: null })).toBe(2 + 1 + 2 + 1);
    expect(itemSize({ m: { a: 'x' } })).toBe(1 + 3 + 1 + 1 + 1);
    expect(itemSize({ l: ['x', 'y'] })).toBe(1 + 3 + 2 + 2);
  });

  test('leaves out attributes that are not there', () => {
    expect(itemSize({ pk: 'a', s3Key: undefined })).toBe(3);
  });
});

describe('writeUnits', () => {
  test('is one per started kilobyte, and at least one', () => {
    expect(writeUnits({})).toBe(1);
    expect(writeUnits({ d: new Uint8Array(1023) })).toBe(1);
    expect(writeUnits({ d: new Uint8Array(1024) })).toBe(2);
    expect(writeUnits({ d: new Uint8Array(3000) })).toBe(3);
  });
});
