import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { itemSize, WRITE_UNIT_BYTES } from '../shared/log/item-size';

/** What one SDK client sent, and what DynamoDB bills for it by the item size rule. */
export interface RequestCounts {
  /** Requests by operation (`PutItem`, `Query`, …), failed ones included. */
  readonly requests: Record<string, number>;
  /** Write requests (PutItem, UpdateItem, DeleteItem) whether or not their condition held: each is billed. */
  writeRequests: number;
  /** Write units of those writes: `ceil(itemSize / 1 KB)` of each PutItem item, 1 for an update of a small item. */
  writeUnits: number;
  /** Writes refused by their condition (lost races). */
  conditionFailures: number;
  /** Item sizes of the PutItem requests, in bytes. */
  readonly putItemBytes: number[];
  /**
   * Read units of Query and GetItem answers: the items' sizes summed per
   * request, one unit per started 4 KB (half for an eventually consistent
   * read), at least one. Projections hide some bytes from this count, so it
   * understates reads that project (head reads: one unit each anyway).
   */
  readUnits: number;
}

export function emptyCounts(): RequestCounts {
  return {
    requests: {},
    writeRequests: 0,
    writeUnits: 0,
    conditionFailures: 0,
    putItemBytes: [],
    readUnits: 0,
  };
}

const READ_UNIT_BYTES = 4096;
const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);

/** Counts an S3 client's requests by operation (`PutObject`, `GetObject`, …) into `requests`. */
export function meterS3(client: S3Client, requests: Record<string, number>): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
      requests[operation] = (requests[operation] ?? 0) + 1;
      return next(args);
    },
    { step: 'build', name: 'meterS3' },
  );
}

/**
 * Counts a DynamoDB client's requests in `counts`, at the build step where
 * inputs are marshalled, so document-client and plain-client requests look
 * the same. A Lambda instance would count the same from its own client.
 *
 * @example
 * const counts = emptyCounts();
 * meterRequests(client, counts);
 */
export function meterRequests(client: DynamoDBClient, counts: RequestCounts): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'unknown';
      const operation = command.replace(/Command$/, '');
      counts.requests[operation] = (counts.requests[operation] ?? 0) + 1;
      if (WRITES.has(command)) {
        counts.writeRequests += 1;
        const input = (args as { input: { Item?: Record<string, never> } }).input;
        if (input.Item) {
          const bytes = itemSize(nativeItem(input.Item));
          counts.putItemBytes.push(bytes);
          counts.writeUnits += Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES));
        } else {
          // Updates here touch a partition's meta item, far below 1 KB.
          counts.writeUnits += 1;
        }
      }
      try {
        const result = await next(args);
        if (command === 'QueryCommand' || command === 'GetItemCommand') {
          const output = result.output as { Items?: Record<string, never>[]; Item?: Record<string, never> };
          const items = output.Items ?? (output.Item ? [output.Item] : []);
          const bytes = items.reduce((sum, item) => sum + itemSize(nativeItem(item)), 0);
          const consistent = (args as { input: { ConsistentRead?: boolean } }).input.ConsistentRead === true;
          counts.readUnits += Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES)) * (consistent ? 1 : 0.5);
        }
        return result;
      } catch (error) {
        if ((error as Error).name === 'ConditionalCheckFailedException') counts.conditionFailures += 1;
        throw error;
      }
    },
    { step: 'build', name: 'meterRequests' },
  );
}

const TYPE_KEYS = new Set(['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS']);

/** The item with plain values, whether the SDK handed it over marshalled (plain client) or not (document client). */
function nativeItem(item: Record<string, unknown>): Record<string, unknown> {
  const marshalled = Object.values(item).every((value) => {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return false;
    const keys = Object.keys(value);
    return keys.length === 1 && TYPE_KEYS.has(keys[0]);
  });
  return marshalled ? unmarshall(item as Record<string, never>) : item;
}

/** Adds `from` into `into`. */
export function addCounts(into: RequestCounts, from: RequestCounts): void {
  for (const [op, n] of Object.entries(from.requests)) into.requests[op] = (into.requests[op] ?? 0) + n;
  into.writeRequests += from.writeRequests;
  into.writeUnits += from.writeUnits;
  into.conditionFailures += from.conditionFailures;
  into.putItemBytes.push(...from.putItemBytes);
  into.readUnits += from.readUnits;
}
