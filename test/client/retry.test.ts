import { backoffDelay, DEFAULT_RETRY } from '../../client/retry';

describe('backoffDelay', () => {
  const options = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1_000 };

  test('doubles per retry, half fixed and half random, up to maxDelayMs', () => {
    expect([0, 1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, {}, options, () => 0))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
    expect([0, 1, 2, 3, 4, 5].map((retry) => backoffDelay(retry, {}, options, () => 1))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  test("never retries sooner than the bus's Retry-After, even beyond maxDelayMs", () => {
    expect(backoffDelay(0, { retryAfterMs: 2_000 }, options, () => 0.5)).toBe(2_000);
    expect(backoffDelay(4, { retryAfterMs: 5_000 }, options, () => 1)).toBe(5_000);
    // A Retry-After shorter than the backoff does not shorten it.
    expect(backoffDelay(3, { retryAfterMs: 10 }, options, () => 0)).toBe(400);
  });
});
