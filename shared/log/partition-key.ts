/** The log table's partition key of one topic-partition: `<topic>#<partition>`. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}#${partition}`;
}

/** Sort key of a partition's meta item, which holds its `floor`; segments sort from 0 up. */
export const META_SK = -1;
