import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type PartitionTop, readTop } from './head';

/**
 * The partition heads this process has seen, each kept for `headCacheMs`:
 * a calm partition's next append commits at the cached head without reading
 * it first (one write per publish); a conflict, or an epoch, forgets it.
 */
export class HeadCache {
  private readonly heads = new Map<string, { readonly offset: number; readonly readAt: number }>();

  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly headCacheMs: number,
    private readonly now: () => number,
  ) {}

  /**
   * The partition's top, its head from the cache while it is fresh (see `readTop`).
   *
   * @example
   * const { head, reserved } = await heads.top(partitionKey('orders', 0));
   */
  async top(pk: string): Promise<Pick<PartitionTop, 'head' | 'reserved'>> {
    const cached = this.heads.get(pk);
    const now = this.now();
    if (cached && now - cached.readAt < this.headCacheMs) return { head: cached.offset, reserved: false };
    const top = await readTop(this.dynamo, this.table, pk);
    if (!top.reserved) this.heads.set(pk, { offset: top.head, readAt: now });
    return top;
  }

  /** Remembers where this process just moved the head to. */
  set(pk: string, offset: number): void {
    this.heads.set(pk, { offset, readAt: this.now() });
  }

  /** Forgets the head: someone else moved it. */
  forget(pk: string): void {
    this.heads.delete(pk);
  }
}
