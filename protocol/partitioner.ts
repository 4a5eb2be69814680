/**
 * Kafka's default partitioner: a keyed event goes to
 * `toPositive(murmur2(utf8(key))) % partitions`, bit for bit as the Java
 * client computes it, so producers that use Kafka clients and producers that
 * use the bus put the same key in the same partition.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

const encoder = new TextEncoder();

/**
 * Kafka's `Utils.murmur2`: 32-bit MurmurHash2 with Kafka's seed, returned as
 * the signed 32-bit int Java returns.
 *
 * @example
 * murmur2(new TextEncoder().encode('foobar')); // -790332482
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  // Java's int arithmetic wraps at 32 bits: Math.imul and `| 0` do the same.
  let h = (SEED ^ length) | 0;
  const tail = length & ~3;

  for (let i = 0; i < tail; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }

  const rest = length & 3;
  if (rest === 3) h ^= data[tail + 2] << 16;
  if (rest >= 2) h ^= data[tail + 1] << 8;
  if (rest >= 1) {
    h ^= data[tail];
    h = Math.imul(h, M);
  }

  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * Kafka's `Utils.toPositive`: clears the sign bit rather than taking `abs`,
 * so `-2^31` maps to 0 instead of staying negative.
 *
 * @example
 * toPositive(-790332482); // 1357151166
 */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/**
 * The partition Kafka's default partitioner picks for `key` (hashed as its
 * UTF-8 bytes) among `partitions` partitions.
 *
 * @example
 * partitionForKey('order-42', 6); // the same number, from 0 to 5, every time
 */
export function partitionForKey(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  return toPositive(murmur2(encoder.encode(key))) % partitions;
}
