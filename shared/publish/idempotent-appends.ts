import { createHash, randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { BusError, ConflictError } from '../errors';
import type { AppendResult } from '../log/appender';
import { CommitUnknownError } from '../log/appender';
import type { Log } from '../log/log';
import type { SegmentRecord } from '../segment/codec';

/** A repeat within this window returns the first answer and appends nothing (docs/api.md). */
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600;

/**
 * An idempotent append writes before this long after it started, or not at
 * all (the appender checks it before every write); a write sent just before
 * may land a little later, hence the margin of the lock below.
 */
export const IDEMPOTENT_APPEND_DEADLINE_MS = 20_000;
const LOCK_MS = IDEMPOTENT_APPEND_DEADLINE_MS + 10_000;

/** The key was first used for another request. */
export class IdempotencyKeyReusedError extends BusError {
  constructor() {
    super(
      422,
      'IDEMPOTENCY_KEY_REUSED',
      'This Idempotency-Key was used for a different request (other events, topic or partitions); use a new key.',
    );
  }
}

/** One partition's share of an idempotent request. */
export interface IdempotentAppend {
  /** Whose key it is (the API key's id), so two clients' keys never collide. */
  readonly scope: string;
  readonly idempotencyKey: string;
  readonly topic: string;
  readonly partition: number;
  readonly retentionHours: number;
  readonly records: SegmentRecord[];
  /**
   * What a repeat must match, instead of the records' hash: a topic target names the source range it
   * appends, so a retry whose transform says something else (`$now()`) still finds the first append.
   */
  readonly identity?: string;
}

interface AppendRecord {
  readonly status: 'INPROGRESS' | 'COMPLETED';
  readonly payloadHash: string;
  readonly attempt: number;
  /** Who made this attempt (random): only it may complete or release it. */
  readonly owner: string;
  /** The segment the attempt commits: found by this id if its answer was lost. */
  readonly segmentId: string;
  /** No offset below this was free when the attempt began: the segment, if committed, is at or above it. */
  readonly fromOffset: number;
  /** Until then the attempt may still commit: nobody else may try. Epoch ms. */
  readonly lockedUntil: number;
  readonly baseOffset?: number;
  readonly count?: number;
  /** TTL, epoch seconds. */
  readonly expiresAt: number;
}

/**
 * Appends each partition's share of an idempotent request at most once, in
 * the registry table, with the append itself as the source of truth:
 *
 *   retry ─► record? ─ none ──────────────► claim (put INPROGRESS: attempt, segmentId, fromOffset,
 *             │                                     lockedUntil) ─► append alone as segmentId ─►
 *             │                                     mark COMPLETED (baseOffset, count) ─► answer
 *             ├─ COMPLETED ─────────────────► answer its offsets, append nothing
 *             └─ INPROGRESS ─► segmentId committed at or above fromOffset?
 *                               ├─ yes ─────► mark COMPLETED, answer its offsets (the earlier attempt
 *                               │             committed; its answer or its record update was lost)
 *                               ├─ no, locked ► 409, retry after the lock (it may still commit)
 *                               └─ no, free ──► take over as attempt + 1 (it can no longer commit)
 *
 * So whatever single fault hits a publish — before, during or after its
 * commit, or on the record's last update — a retry finds the commit rather
 * than appending again. An attempt that failed for certain (throttled,
 * conflicts) frees its lock at once, so its retry need not wait.
 */
export class IdempotentAppends {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly log: Log,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Claims a key for one request (its topic and every partition's events, as
   * `requestHash`), before any partition is appended; IDEMPOTENCY_KEY_REUSED
   * (422) when the key was first used for a different request.
   */
  async claimRequest(
    scope: string,
    idempotencyKey: string,
    topic: string,
    requestHash: string,
  ): Promise<void> {
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...keyOf('idempotency-request', scope, idempotencyKey, topic),
            requestHash,
            expiresAt: this.expiresAt(),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR requestHash = :hash',
          ExpressionAttributeValues: { ':now': Math.floor(this.now() / 1000), ':hash': requestHash },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new IdempotencyKeyReusedError();
      throw error;
    }
  }

  async append(request: IdempotentAppend): Promise<AppendResult> {
    const key = keyOf(
      'idempotency',
      request.scope,
      request.idempotencyKey,
      request.topic,
      String(request.partition),
    );
    const payloadHash = request.identity ?? hashRecords(request.records);
    for (let round = 0; round < 3; round++) {
      const existing = await this.read(key);
      if (!existing) {
        const claimed = await this.claim(key, request, payloadHash, 1, undefined);
        if (claimed) return this.attempt(key, request, claimed);
        continue;
      }
      if (existing.payloadHash !== payloadHash) throw new IdempotencyKeyReusedError();
      if (existing.status === 'COMPLETED') {
        return { baseOffset: existing.baseOffset as number, count: existing.count as number };
      }
      const found = await this.log.findSegment(
        request.topic,
        request.partition,
        existing.segmentId,
        existing.fromOffset,
        // The attempt wrote before its deadline, or not at all; its lock outlasts that.
        existing.lockedUntil,
      );
      if (found) {
        await this.complete(key, existing.owner, found).catch(() => {});
        return found;
      }
      if (existing.lockedUntil > this.now()) {
        const seconds = Math.max(1, Math.ceil((existing.lockedUntil - this.now()) / 1000));
        throw new ConflictError(
          'A request with this Idempotency-Key is still in progress; retry it shortly.',
          {
            retryAfterSeconds: Math.min(seconds, 5),
          },
        );
      }
      const taken = await this.claim(key, request, payloadHash, existing.attempt + 1, existing.attempt);
      if (taken) return this.attempt(key, request, taken);
    }
    throw new ConflictError('A request with this Idempotency-Key is still in progress; retry it shortly.', {
      retryAfterSeconds: 1,
    });
  }

  /** Appends as the claimed attempt and records where it landed. */
  private async attempt(
    key: Record<string, string>,
    request: IdempotentAppend,
    record: AppendRecord,
  ): Promise<AppendResult> {
    let result: AppendResult;
    try {
      result = await this.log.append(
        request.topic,
        request.partition,
        request.retentionHours,
        request.records,
        {
          segmentId: record.segmentId,
          deadline: this.now() + IDEMPOTENT_APPEND_DEADLINE_MS,
        },
      );
    } catch (error) {
      // Certainly not committed: free the key, so the client's retry can append at once.
      if (!(error instanceof CommitUnknownError)) await this.release(key, record.owner).catch(() => {});
      throw error;
    }
    // The commit stands whatever happens to this update: a retry finds the segment if it is lost.
    await this.complete(key, record.owner, result).catch(async () => {
      await this.complete(key, record.owner, result);
    });
    return result;
  }

  private async read(key: Record<string, string>): Promise<AppendRecord | undefined> {
    const { Item } = await this.dynamo.send(
      new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }),
    );
    if (!Item || (Item.expiresAt as number) * 1000 <= this.now()) return undefined;
    return Item as unknown as AppendRecord;
  }

  /** Takes the key for `attempt` (the first, or the one after `previous`); undefined when someone else did. */
  private async claim(
    key: Record<string, string>,
    request: IdempotentAppend,
    payloadHash: string,
    attempt: number,
    previous: number | undefined,
  ): Promise<AppendRecord | undefined> {
    const now = this.now();
    const record: AppendRecord = {
      status: 'INPROGRESS',
      payloadHash,
      attempt,
      owner: randomUUID(),
      segmentId: `${key.pk.slice(-32)}-${attempt}`,
      fromOffset: await this.log.endOffset(request.topic, request.partition),
      lockedUntil: now + LOCK_MS,
      expiresAt: this.expiresAt(),
    };
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...key, ...record },
          ConditionExpression:
            previous === undefined
              ? 'attribute_not_exists(pk) OR expiresAt < :nowSeconds'
              : '#status = :inProgress AND attempt = :previous AND lockedUntil <= :now',
          ExpressionAttributeNames: previous === undefined ? undefined : { '#status': 'status' },
          ExpressionAttributeValues:
            previous === undefined
              ? { ':nowSeconds': Math.floor(now / 1000) }
              : { ':inProgress': 'INPROGRESS', ':previous': previous, ':now': now },
        }),
      );
      return record;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      // The claim's answer was lost: if it landed, this process will not append, so let a retry in now.
      await this.release(key, record.owner).catch(() => {});
      throw error;
    }
  }

  private async complete(key: Record<string, string>, owner: string, result: AppendResult): Promise<void> {
    await this.dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: key,
        UpdateExpression: 'SET #status = :completed, baseOffset = :base, #count = :count',
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: { '#status': 'status', '#count': 'count', '#owner': 'owner' },
        ExpressionAttributeValues: {
          ':completed': 'COMPLETED',
          ':base': result.baseOffset,
          ':count': result.count,
          ':owner': owner,
        },
      }),
    );
  }

  /** Frees the key of an attempt that certainly did not commit: a retry may take over at once. */
  private async release(key: Record<string, string>, owner: string): Promise<void> {
    await this.dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: key,
        UpdateExpression: 'SET lockedUntil = :zero',
        ConditionExpression: '#owner = :owner AND #status = :inProgress',
        ExpressionAttributeNames: { '#status': 'status', '#owner': 'owner' },
        ExpressionAttributeValues: { ':zero': 0, ':owner': owner, ':inProgress': 'INPROGRESS' },
      }),
    );
  }

  private expiresAt(): number {
    return Math.ceil(this.now() / 1000) + IDEMPOTENCY_WINDOW_SECONDS;
  }
}

/** The registry key of an idempotency record: a hash, so no client string becomes a key as it is. */
function keyOf(kind: string, ...parts: string[]): { pk: string; sk: string } {
  const hash = createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  return { pk: `${kind}#${hash}`, sk: kind };
}

/** What identifies a partition's events: keys, values, headers, and whether each value is JSON. */
export function hashRecords(records: readonly SegmentRecord[]): string {
  const hash = createHash('sha256');
  for (const r of records) {
    hash.update(JSON.stringify([r.key?.toString('base64') ?? null, r.json, Object.entries(r.headers)]));
    hash.update(String(r.value.length));
    hash.update(r.value);
  }
  return hash.digest('base64');
}
