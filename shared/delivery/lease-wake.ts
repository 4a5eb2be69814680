import { type CursorState, leaseIsLive } from './cursor-store';
import type { DelayedWaker, LeaseWake } from './delayed-waker';

/**
 * How long after a lease's expiry its wake is due: the lease has surely lapsed
 * by then, even with a second's rounding and clocks a little apart.
 */
export const LEASE_WAKE_MARGIN_MS = 1_000;

/** What to do with a lease wake that is due. */
export type LeaseWakeAction =
  /** Nothing to do: the cursor is gone, another acquisition armed its own wake, or nothing is left. */
  | { readonly kind: 'drop' }
  /** Look again at `dueAt`: the lease was renewed (a long run), or a retry is due later. */
  | { readonly kind: 'rearm'; readonly dueAt: number }
  /** The holder is gone and events are waiting: wake a deliverer. */
  | { readonly kind: 'wake' };

/**
 * The decision over a lease wake, from the cursor as read, the time, and
 * the partition's end, read only when it is needed:
 *
 *   cursor gone, or epoch moved on ──────────────── drop (the new holder armed its own)
 *   lease live (renewed by a long run) ──────────── rearm at its new expiry + margin
 *   released, a retry pending ───────────────────── rearm when it is due, or wake if it is
 *   released, no retry ──────────────────────────── drop (the run caught up, or handed off)
 *   lapsed (its holder died), nothing left ──────── drop
 *   lapsed, a retry due later ───────────────────── rearm when it is due
 *   lapsed, events waiting ──────────────────────── wake
 *
 * Only a lapsed lease reads the partition's end (`readEnd`, a head read): a
 * released one is the common case, and costs the cursor's read alone. A
 * pending retry always has an event waiting at `committed`. A released lease
 * armed for a retry makes a retry later than its run's budget happen on
 * time on AWS too, not at the next sweep.
 *
 * @example
 * await decideLeaseWake({ cursor: 'g', partition: 0, epoch: 3 }, state, Date.now(), async () => 42);
 */
export async function decideLeaseWake(
  wake: LeaseWake,
  state: CursorState | undefined,
  now: number,
  readEnd: (state: CursorState) => Promise<number>,
): Promise<LeaseWakeAction> {
  if (!state || state.leaseEpoch !== wake.epoch) return { kind: 'drop' };
  if (leaseIsLive(state, now))
    return { kind: 'rearm', dueAt: (state.leaseExpires ?? now) + LEASE_WAKE_MARGIN_MS };
  const retryAt = state.retryAt;
  if (state.leaseOwner === undefined) {
    if (retryAt === undefined) return { kind: 'drop' };
    return retryAt > now ? { kind: 'rearm', dueAt: retryAt } : { kind: 'wake' };
  }
  const end = await readEnd(state);
  if (state.committed >= Math.min(end, state.until ?? Number.POSITIVE_INFINITY)) return { kind: 'drop' };
  if (retryAt !== undefined && retryAt > now) return { kind: 'rearm', dueAt: retryAt };
  return { kind: 'wake' };
}

/**
 * Arms the wake of a lease just taken: due `LEASE_WAKE_MARGIN_MS` after it
 * would lapse.
 *
 * @example
 * const taken = await cursors.acquireLease(ref, owner, now, LEASE_MS);
 * if (taken) await armLeaseWake(delayedWaker, taken);
 */
export function armLeaseWake(
  delayed: DelayedWaker,
  state: Pick<CursorState, 'cursor' | 'partition' | 'leaseEpoch' | 'leaseExpires'>,
): Promise<void> {
  return delayed.wakeAt(
    { cursor: state.cursor, partition: state.partition, epoch: state.leaseEpoch },
    (state.leaseExpires ?? 0) + LEASE_WAKE_MARGIN_MS,
  );
}

/**
 * A lease wake from a message body; undefined when it is not one (a message
 * nobody can act on is dropped, not retried).
 *
 * @example
 * parseLeaseWake('{"cursor":"g","partition":0,"epoch":3}'); // { cursor: 'g', partition: 0, epoch: 3 }
 */
export function parseLeaseWake(body: string): LeaseWake | undefined {
  try {
    const { cursor, partition, epoch } = JSON.parse(body) as Partial<LeaseWake>;
    if (typeof cursor !== 'string' || !Number.isInteger(partition) || !Number.isInteger(epoch))
      return undefined;
    return { cursor, partition: partition as number, epoch: epoch as number };
  } catch {
    return undefined;
  }
}
