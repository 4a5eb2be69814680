/** The log table's partition key of one topic-partition: `<topic>#<partition>`. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}#${partition}`;
}

/**
 * The topic and partition of a log table partition key, the inverse of
 * {@link partitionKey}. Topic names hold no `#`, so the last one separates.
 *
 * @example
 * parsePartitionKey('orders#2'); // { topic: 'orders', partition: 2 }
 */
export function parsePartitionKey(pk: string): { topic: string; partition: number } {
  const at = pk.lastIndexOf('#');
  const digits = pk.slice(at + 1);
  const partition = Number(digits);
  if (at <= 0 || !/^\d+$/.test(digits) || !Number.isSafeInteger(partition)) {
    throw new Error(`"${pk.slice(0, 220)}" is not a log partition key (<topic>#<partition>).`);
  }
  return { topic: pk.slice(0, at), partition };
}

/** Sort key of a partition's meta item, which holds its `floor`; segments sort from 0 up. */
export const META_SK = -1;
