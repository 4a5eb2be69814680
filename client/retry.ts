import type { EventBusError } from './errors';

/** How a request that failed in a way a retry can help (429, 503, no answer) is retried. */
export interface RetryOptions {
  /**
   * Retries after the first attempt, at most.
   * @default 6 (the Producer: unlimited, bounded by its `deliveryTimeoutMs`)
   */
  readonly retries?: number;
  /**
   * The first backoff; it doubles with each retry, with jitter.
   * @default 100
   */
  readonly baseDelayMs?: number;
  /**
   * The longest backoff (a `Retry-After` from the bus may ask for longer, and is honoured).
   * @default 5000
   */
  readonly maxDelayMs?: number;
  /**
   * No retry starts later than this after the first attempt; the last error is thrown.
   * @default unlimited
   */
  readonly timeoutMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = {
  retries: 6,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  timeoutMs: Number.POSITIVE_INFINITY,
};

/**
 * The wait before retry number `retry` (0 for the first): exponential with
 * "equal jitter" — half fixed, half random, so a crowd of clients spreads
 * out yet none retries at once — and never sooner than the bus's
 * `Retry-After`.
 *
 * @example
 * backoffDelay(2, error, DEFAULT_RETRY); // 200 to 400 ms, or error.retryAfterMs if longer
 */
export function backoffDelay(
  retry: number,
  error: Pick<EventBusError, 'retryAfterMs'>,
  options: Required<RetryOptions>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry);
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(jittered, error.retryAfterMs ?? 0);
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
