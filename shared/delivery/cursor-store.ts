import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { queryAll } from '../aws/query-all';

/**
 * Where one reader of one partition stands: a consumer group's position in a
 * topic-partition, or a redrive's position in the group's dead-letter topic.
 * An item of the groups table at `pk = <cursor>`, `sk = <partition>`.
 */
export interface CursorRef {
  /** The group's name, or `<group>#redrive` for its redrive of dead letters (`#` is never in a name). */
  readonly cursor: string;
  readonly partition: number;
  /**
   * An offset the partition is known to reach (the stream saw a segment end there): a wake-up carries
   * it so the deliverer need not read the head first. Never more than the head.
   */
  readonly end?: number;
}

export interface CursorState extends CursorRef {
  /** The topic this cursor reads. */
  readonly topic: string;
  /** The next offset to deliver, as in Kafka. */
  readonly committed: number;
  /** Bumped by every reset, so a batch read before a reset can never commit after it. */
  readonly generation: number;
  readonly leaseOwner?: string;
  /** Epoch ms after which the lease may be taken over. */
  readonly leaseExpires?: number;
  /** Counts the lease's acquisitions: a holder's commits name the one it took, so a stale holder is fenced out. */
  readonly leaseEpoch: number;
  /** Failed deliveries of the event at `committed`. */
  readonly attempts: number;
  /** Epoch ms before which the event at `committed` is not delivered again. */
  readonly retryAt?: number;
  readonly lastError?: string;
  /** Set while the target is throttling: when the whole batch at `committed` goes again (epoch ms). */
  readonly throttledUntil?: number;
  /** A redrive stops here: the dead-letter topic's end when it was asked for. */
  readonly until?: number;
  /**
   * A topic target's batch in flight: the events from `committed` up to this offset are being appended,
   * and whoever holds the cursor next appends exactly them again, idempotently (docs/adr/0020).
   */
  readonly appendingUntil?: number;
}

/**
 * How long a lease lasts unless renewed: a dead holder's partition waits at
 * most this long for another (the Kinesis Client Library fails over in
 * about 10 s, too). Renewed every third of it while its run is alive.
 */
export const LEASE_MS = 10_000;

/** Whether someone holds the cursor's lease at `now` (epoch ms): a pure function of the state and the time. */
export function leaseIsLive(state: Pick<CursorState, 'leaseOwner' | 'leaseExpires'>, now: number): boolean {
  return state.leaseOwner !== undefined && (state.leaseExpires ?? 0) > now;
}

/** What a commit writes besides the offset: the failure bookkeeping of the event now at `committed`. */
export interface CommitUpdate {
  readonly next: number;
  readonly attempts?: number;
  readonly retryAt?: number;
  readonly lastError?: string;
  readonly throttledUntil?: number;
  /** Fixes a topic target's batch before it is appended; kept while the cursor stays, cleared when it moves. */
  readonly appendingUntil?: number;
  /** The lease's new expiry; absent releases the lease. */
  readonly leaseExpires?: number;
}

/**
 * Cursors in the groups table. The lease makes one holder per cursor, which
 * keeps per-partition order; the commit makes progress durable. Leases are
 * short (`LEASE_MS`, 10 s) and renewed while their run is alive — by each
 * commit, and by a heartbeat during a long invocation — so a dead holder's
 * partition is taken over within seconds; each acquisition bumps the lease's
 * epoch, which fences a stalled holder out once another took over:
 *
 *          acquireLease            renewLease (heartbeat)      commitOffset (renews)
 *            epoch e                  owner A, epoch e?          owner A, epoch e, committed n, generation g?
 *   A  ─────────●──── read ─ invoke ──────●──────── invoke ────────────●──── read ─ invoke ─── ✕ dies
 *               │                                                                   │
 *               │                                         no heartbeat: expires ────┤ (≤ LEASE_MS)
 *   B  ────────────● refused: A's lease is live ─────────────────────────────────────────● acquireLease: expired,
 *                                                                                          epoch e+1, delivers on
 *   A' (A stalled, not dead, wakes up) ─────────────────────────────────────────────────────── commitOffset(e) ✕
 *                                                                         refused: epoch is e+1; so is renewLease,
 *                                                                         the check before a dead letter's append
 *   reset ────────────────────────────────────────● committed := x, generation := g+1
 *                                                   the holder's next commit fails: the reset wins,
 *                                                   and takes effect at the next batch.
 *
 * Two holders may deliver the batch that was in flight when the lease
 * passed over, never both commit. Losing a race is a return value, not an
 * exception.
 */
export class CursorStore {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Creates the cursor at `committed` unless it exists; returns whether it created it. */
  async initialize(
    ref: CursorRef,
    topic: string,
    committed: number,
    extra: { until?: number } = {},
  ): Promise<boolean> {
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: ref.cursor, sk: ref.partition, topic, committed, generation: 0, attempts: 0, ...extra },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async read(ref: CursorRef): Promise<CursorState | undefined> {
    const { Item } = await this.dynamo.send(
      new GetCommand({ TableName: this.table, Key: keyOf(ref), ConsistentRead: true }),
    );
    return Item ? toState(Item) : undefined;
  }

  /** Several cursors at once (the sweep reads every group-partition each run). */
  async readMany(refs: readonly CursorRef[]): Promise<CursorState[]> {
    const states: CursorState[] = [];
    for (let i = 0; i < refs.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = refs.slice(i, i + 100).map(keyOf);
      while (keys && keys.length > 0) {
        const result: BatchGetCommandOutput = await this.dynamo.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }),
        );
        states.push(...(result.Responses?.[this.table] ?? []).map(toState));
        keys = result.UnprocessedKeys?.[this.table]?.Keys;
      }
    }
    return states;
  }

  /** Every partition's cursor of `cursor`. */
  async list(cursor: string): Promise<CursorState[]> {
    const items = await queryAll(this.dynamo, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': cursor },
      ConsistentRead: true,
    });
    return items.map(toState);
  }

  /**
   * Takes the lease when it is free or expired at `now`, in a new epoch; the
   * state as taken, or undefined when another holds it.
   */
  async acquireLease(
    ref: CursorRef,
    owner: string,
    now: number,
    leaseMs: number,
  ): Promise<CursorState | undefined> {
    try {
      const { Attributes } = await this.dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keyOf(ref),
          UpdateExpression:
            'SET leaseOwner = :owner, leaseExpires = :expires, leaseEpoch = if_not_exists(leaseEpoch, :zero) + :one',
          ConditionExpression:
            'attribute_exists(pk) AND (attribute_not_exists(leaseOwner) OR leaseExpires <= :now)',
          ExpressionAttributeValues: {
            ':owner': owner,
            ':expires': now + leaseMs,
            ':now': now,
            ':zero': 0,
            ':one': 1,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toState(Attributes as Record<string, unknown>);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /**
   * Extends the lease `owner` took in `state.leaseEpoch` to `now + leaseMs`,
   * unless another took it over since (or a release let it go): false then,
   * and the holder stops before it commits or dead-letters anything.
   */
  async renewLease(
    state: Pick<CursorState, 'cursor' | 'partition' | 'leaseEpoch'>,
    owner: string,
    now: number,
    leaseMs: number,
  ): Promise<boolean> {
    try {
      await this.dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keyOf(state),
          UpdateExpression: 'SET leaseExpires = :expires',
          ConditionExpression: 'leaseOwner = :owner AND leaseEpoch = :epoch',
          ExpressionAttributeValues: {
            ':owner': owner,
            ':epoch': state.leaseEpoch,
            ':expires': now + leaseMs,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Moves the cursor from `expected` to `update.next` (the same offset to
   * record a failure; a topic target's batch in flight stays fixed then), on condition that `owner` still holds the lease and
   * no reset came in between — in the lease's epoch, so a holder that
   * stalled while another took the lease over cannot commit. False when that no longer holds: the caller
   * stops, and whoever holds the cursor now carries on.
   */
  async commitOffset(
    state: Pick<CursorState, 'cursor' | 'partition' | 'committed' | 'generation' | 'leaseEpoch'>,
    owner: string,
    update: CommitUpdate,
  ): Promise<boolean> {
    const set = ['committed = :next', 'attempts = :attempts'];
    const remove: string[] = [];
    const values: Record<string, unknown> = {
      ':next': update.next,
      ':attempts': update.attempts ?? 0,
      ':owner': owner,
      ':expected': state.committed,
      ':generation': state.generation,
      ':epoch': state.leaseEpoch,
    };
    for (const [name, value] of [
      ['retryAt', update.retryAt],
      ['lastError', update.lastError],
      ['throttledUntil', update.throttledUntil],
      ['leaseExpires', update.leaseExpires],
    ] as const) {
      if (value === undefined) remove.push(name);
      else {
        set.push(`${name} = :${name}`);
        values[`:${name}`] = value;
      }
    }
    if (update.leaseExpires === undefined) remove.push('leaseOwner');
    if (update.appendingUntil !== undefined) {
      set.push('appendingUntil = :appendingUntil');
      values[':appendingUntil'] = update.appendingUntil;
    } else if (update.next !== state.committed) remove.push('appendingUntil');
    try {
      await this.dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keyOf(state),
          UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
          ConditionExpression:
            'leaseOwner = :owner AND leaseEpoch = :epoch AND committed = :expected AND generation = :generation',
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Moves the cursor to `offset` whoever holds it: a batch in flight is not
   * interrupted, but its commit fails on the new generation, so the reset
   * takes effect at the next batch. Failure bookkeeping starts afresh.
   */
  async reset(ref: CursorRef, topic: string, offset: number, extra: { until?: number } = {}): Promise<void> {
    const values: Record<string, unknown> = { ':offset': offset, ':topic': topic, ':zero': 0, ':one': 1 };
    let set =
      'SET committed = :offset, topic = :topic, attempts = :zero, generation = if_not_exists(generation, :zero) + :one';
    if (extra.until !== undefined) {
      set += ', #until = :until';
      values[':until'] = extra.until;
    }
    await this.dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: keyOf(ref),
        UpdateExpression: `${set} REMOVE retryAt, lastError, throttledUntil, appendingUntil`,
        ExpressionAttributeValues: values,
        ...(extra.until !== undefined ? { ExpressionAttributeNames: { '#until': 'until' } } : {}),
      }),
    );
  }

  /** Removes every partition's cursor of `cursor`. */
  async deleteAll(cursor: string): Promise<void> {
    for (const state of await this.list(cursor)) {
      await this.dynamo.send(new DeleteCommand({ TableName: this.table, Key: keyOf(state) }));
    }
  }
}

function keyOf(ref: CursorRef): { pk: string; sk: number } {
  return { pk: ref.cursor, sk: ref.partition };
}

function toState(item: Record<string, unknown>): CursorState {
  return {
    cursor: item.pk as string,
    partition: item.sk as number,
    topic: item.topic as string,
    committed: item.committed as number,
    generation: (item.generation as number | undefined) ?? 0,
    leaseOwner: item.leaseOwner as string | undefined,
    leaseExpires: item.leaseExpires as number | undefined,
    leaseEpoch: (item.leaseEpoch as number | undefined) ?? 0,
    attempts: (item.attempts as number | undefined) ?? 0,
    retryAt: item.retryAt as number | undefined,
    lastError: item.lastError as string | undefined,
    throttledUntil: item.throttledUntil as number | undefined,
    until: item.until as number | undefined,
    appendingUntil: item.appendingUntil as number | undefined,
  };
}
