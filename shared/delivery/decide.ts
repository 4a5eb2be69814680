import { type BackoffPolicy, retryDelayMs } from './backoff';
import type { Subscription } from './subscription';
import { type DeliveryOutcome, truncateError } from './targets/target';

/** Where a group stands when a batch's outcome comes back: all `decide` needs, no storage. */
export interface DecisionState {
  /** The next offset to deliver: the batch's first event. */
  readonly committed: number;
  /** Failed deliveries of the event at `committed` before this one. */
  readonly attempts: number;
  /** The batch as sent. */
  readonly batch: {
    /** Events in it. */
    readonly count: number;
    /** The offset after its last event. */
    readonly next: number;
    /** Append time (epoch ms) of its first event, for `maxAgeSeconds`. */
    readonly firstTimestamp: number;
  };
  readonly subscription: Pick<Subscription, 'maxAttempts' | 'maxAgeSeconds'>;
  /** Epoch ms. */
  readonly now: number;
  readonly backoff: BackoffPolicy;
  /** A number in [0, 1) that spreads retries of many events apart (the jitter). */
  readonly jitter: number;
}

/** A failure recorded on the event the cursor stays at: how often it failed, why, and when to try again. */
export interface RecordedFailure {
  readonly attempts: number;
  /** Epoch ms before which the event is not delivered again. */
  readonly retryAt: number;
  readonly error: string;
}

/** What the deliverer does next with a batch's outcome. */
export type DeliveryAction =
  /** Commit up to `next`; a failure list leaves the event at `next` with its first recorded failure. */
  | { readonly kind: 'commit'; readonly next: number; readonly failure?: RecordedFailure }
  /** Send the first `batchSize` events of the batch again at once, to isolate the poison event. */
  | { readonly kind: 'bisect'; readonly batchSize: number }
  /** Keep the event at `committed`, recording its failure; deliver it alone once `retryAt` is due. */
  | { readonly kind: 'retry'; readonly failure: RecordedFailure }
  /** The target is throttling: keep the batch whole and send it again at `failure.retryAt`, no sooner. */
  | { readonly kind: 'wait'; readonly failure: RecordedFailure }
  /**
   * Give up on the event at `committed`: append it to the group's dead-letter topic, commit past it.
   * After a throttle, `resumeAt` keeps the events behind it from going before the target's Retry-After.
   */
  | {
      readonly kind: 'dead-letter';
      readonly attempts: number;
      readonly error: string;
      readonly resumeAt?: number;
    };

/**
 * The at-least-once rules, as a pure function of a batch's outcome and where
 * the group stands:
 *
 * | outcome                           | batch    | action                                          |
 * |-----------------------------------|----------|-------------------------------------------------|
 * | delivered                         | any      | commit past the batch                           |
 * | partial, lowest failed > first    | any      | commit to the lowest failed; it failed once     |
 * | failed                            | 2 or more| bisect: send the first half again at once       |
 * | failed, or partial at the first   | 1        | retry after backoff, or dead-letter once the    |
 * |                                   |          | attempts or the age budget is spent             |
 * | throttled                         | any      | wait for Retry-After (else backoff), resend the |
 * |                                   |          | whole batch; dead-letter its first event once   |
 * |                                   |          | the attempts or the age budget is spent, and    |
 * |                                   |          | send the rest no sooner than the Retry-After    |
 * | refused (a topic target's rule)   | 1        | dead-letter at once: no retry can help          |
 * | unavailable (the bus's storage)   | any      | wait and send the same batch again, however     |
 * |                                   |          | long: a topic target's append may have landed   |
 *
 * A throttle counts as one attempt of the batch's first event, so a target
 * that throttles forever still cannot hold its group beyond `maxAttempts`
 * resends (or `maxAgeSeconds`); it never splits the batch, since no event in
 * it is at fault.
 *
 * @example
 * const action = decide({ status: 'failed', error: 'boom' }, state);
 * if (action.kind === 'bisect') batchSize = action.batchSize;
 */
export function decide(outcome: DeliveryOutcome, state: DecisionState): DeliveryAction {
  if (outcome.status === 'delivered') return { kind: 'commit', next: state.batch.next };
  if (outcome.status === 'partial' && outcome.lowestFailed > state.committed) {
    return { kind: 'commit', next: outcome.lowestFailed, failure: failure(1, outcome.error, state) };
  }
  if (outcome.status === 'refused') {
    return { kind: 'dead-letter', attempts: state.attempts + 1, error: truncateError(outcome.error) };
  }
  if (outcome.status === 'unavailable') {
    const attempts = state.attempts + 1;
    const delayMs = outcome.retryAfterMs ?? retryDelayMs(attempts, state.backoff, () => state.jitter);
    return {
      kind: 'wait',
      failure: { attempts, retryAt: state.now + delayMs, error: truncateError(outcome.error) },
    };
  }
  if (outcome.status === 'throttled') {
    const attempts = state.attempts + 1;
    const delayMs = outcome.retryAfterMs ?? retryDelayMs(attempts, state.backoff, () => state.jitter);
    if (spent(attempts, state)) {
      // The event is given up on, but the target still asked for a pause: the rest wait for it too.
      return {
        kind: 'dead-letter',
        attempts,
        error: truncateError(outcome.error),
        resumeAt: state.now + delayMs,
      };
    }
    return {
      kind: 'wait',
      failure: { attempts, retryAt: state.now + delayMs, error: truncateError(outcome.error) },
    };
  }
  if (outcome.status === 'failed' && state.batch.count > 1) {
    return { kind: 'bisect', batchSize: Math.ceil(state.batch.count / 2) };
  }
  const attempts = state.attempts + 1;
  if (spent(attempts, state)) return { kind: 'dead-letter', attempts, error: truncateError(outcome.error) };
  return { kind: 'retry', failure: failure(attempts, outcome.error, state) };
}

/** Whether the batch's first event, now at `attempts`, has used up its attempts or outlived `maxAgeSeconds`. */
function spent(attempts: number, state: DecisionState): boolean {
  const maxAgeSeconds = state.subscription.maxAgeSeconds;
  const tooOld = maxAgeSeconds !== undefined && state.now - state.batch.firstTimestamp > maxAgeSeconds * 1000;
  return attempts >= state.subscription.maxAttempts || tooOld;
}

function failure(attempts: number, error: string, state: DecisionState): RecordedFailure {
  return {
    attempts,
    retryAt: state.now + retryDelayMs(attempts, state.backoff, () => state.jitter),
    error: truncateError(error),
  };
}
