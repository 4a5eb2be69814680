import fc from 'fast-check';
import { murmur2, partitionForKey, toPositive } from '../../protocol';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('murmur2', () => {
  // Kafka's UtilsTest.testMurmur2 (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ])('hashes %j to %d, as Kafka does', (input, expected) => {
    expect(murmur2(utf8(input))).toBe(expected);
  });

  it('hashes the bytes {a, b, c} to 479470107, as Kafka does', () => {
    expect(murmur2(Uint8Array.of(0x61, 0x62, 0x63))).toBe(479470107);
  });

  it('returns a signed 32-bit integer for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        const hash = murmur2(data);
        expect(hash).toBe(hash | 0);
      }),
    );
  });
});

describe('toPositive', () => {
  it('clears the sign bit instead of taking the absolute value', () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-(2 ** 31))).toBe(0);
    expect(toPositive(-790332482)).toBe(1357151166);
    expect(toPositive(42)).toBe(42);
  });
});

describe('partitionForKey', () => {
  it('picks the partition Kafka picks', () => {
    // toPositive(-790332482) = 1357151166; 1357151166 % 10 = 6.
    expect(partitionForKey('foobar', 10)).toBe(6);
    // toPositive(479470107) = 479470107; 479470107 % 10 = 7.
    expect(partitionForKey('abc', 10)).toBe(7);
  });

  it('always picks the same partition, within range, for the same key', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: 1, max: 10_000 }), (key, partitions) => {
        const partition = partitionForKey(key, partitions);
        expect(Number.isInteger(partition)).toBe(true);
        expect(partition).toBeGreaterThanOrEqual(0);
        expect(partition).toBeLessThan(partitions);
        expect(partitionForKey(key, partitions)).toBe(partition);
      }),
    );
  });

  it('hashes a non-ASCII key as its UTF-8 bytes', () => {
    const key = 'Zürich-東京-🚀';
    expect(utf8(key).length).toBeGreaterThan(key.length);
    expect(partitionForKey(key, 1_000_003)).toBe(toPositive(murmur2(Buffer.from(key, 'utf8'))) % 1_000_003);
    // Hashing UTF-16 code units instead would give another partition for this key.
    const utf16 = new Uint8Array(Buffer.from(key, 'utf16le'));
    expect(partitionForKey(key, 1_000_003)).not.toBe(toPositive(murmur2(utf16)) % 1_000_003);
  });

  it('spreads distinct keys over all partitions', () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[partitionForKey(`order-${i}`, 8)]++;
    for (const count of counts) expect(count).toBeGreaterThan(800);
  });

  it('fails when the partition count is not a positive integer', () => {
    expect(() => partitionForKey('k', 0)).toThrow(RangeError);
    expect(() => partitionForKey('k', 2.5)).toThrow(RangeError);
  });
});
