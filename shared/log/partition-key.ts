/** The log table's partition key of one topic-partition: `<topic>#<partition>`. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}#${partition}`;
}

/** Sort key of a partition's meta item, which holds its `floor`; segments sort from 0 up. */
export const META_SK = -1;

/** The offset the next segment gets, from a partition's last item: a segment's `last + 1`, or the meta item's `floor`. */
export function headOf(top: { sk: number; last?: number; floor?: number } | undefined): number {
  if (!top) return 0;
  return top.sk === META_SK ? (top.floor ?? 0) : (top.last as number) + 1;
}
