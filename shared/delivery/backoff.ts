/** How retries of a failing event are spaced. */
export interface BackoffPolicy {
  /** The delay after the first failure, before jitter. */
  readonly baseMs: number;
  /** No delay is longer than this. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 5 * 60_000 };

/**
 * The delay before the next attempt after `attempts` failures: exponential
 * with "equal jitter" — half the exponential step fixed, half random — so
 * delays never shrink from one attempt to the next (attempt n waits at most
 * what attempt n+1 waits at least) while retries of many events spread out.
 */
export function retryDelayMs(
  attempts: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.ceil(step / 2 + (step / 2) * random());
}
