import { type DecisionState, type DeliveryAction, decide } from '../../../shared/delivery/decide';
import type { DeliveryOutcome } from '../../../shared/delivery/targets/target';

const NOW = 1_000_000;

/** A batch of `count` events from offset 10, first appended `ageMs` ago, its first event failed `attempts` times. */
function state(count: number, attempts = 0, ageMs = 0, maxAgeSeconds?: number): DecisionState {
  return {
    committed: 10,
    attempts,
    batch: { count, next: 10 + count, firstTimestamp: NOW - ageMs },
    subscription: { maxAttempts: 3, maxAgeSeconds },
    now: NOW,
    backoff: { baseMs: 1_000, maxMs: 60_000 },
    jitter: 0.5,
  };
}

const failed: DeliveryOutcome = { status: 'failed', error: 'boom' };

describe('decide', () => {
  test.each<[string, DeliveryOutcome, DecisionState, DeliveryAction]>([
    ['a delivered batch is committed past', { status: 'delivered' }, state(5), { kind: 'commit', next: 15 }],
    [
      'a delivered retry goes back to committing',
      { status: 'delivered' },
      state(1, 2),
      { kind: 'commit', next: 11 },
    ],
    [
      'a failure list commits up to the lowest failed event, which failed once',
      { status: 'partial', lowestFailed: 13, error: 'bad 13' },
      state(5),
      { kind: 'commit', next: 13, failure: { attempts: 1, retryAt: NOW + 750, error: 'bad 13' } },
    ],
    ['a failed batch of 5 is halved', failed, state(5), { kind: 'bisect', batchSize: 3 }],
    ['a failed batch of 2 is halved', failed, state(2), { kind: 'bisect', batchSize: 1 }],
    [
      'a lone failed event is retried after backoff',
      failed,
      state(1),
      { kind: 'retry', failure: { attempts: 1, retryAt: NOW + 750, error: 'boom' } },
    ],
    [
      'the second failure waits twice as long',
      failed,
      state(1, 1),
      { kind: 'retry', failure: { attempts: 2, retryAt: NOW + 1_500, error: 'boom' } },
    ],
    [
      'a failure list naming the first event counts as its failure, not a bisection',
      { status: 'partial', lowestFailed: 10, error: 'bad 10' },
      state(5, 1),
      { kind: 'retry', failure: { attempts: 2, retryAt: NOW + 1_500, error: 'bad 10' } },
    ],
    [
      'the last attempt dead-letters the event',
      failed,
      state(1, 2),
      { kind: 'dead-letter', attempts: 3, error: 'boom' },
    ],
    [
      'an event older than maxAgeSeconds is dead-lettered at its first failure',
      failed,
      state(1, 0, 61_000, 60),
      { kind: 'dead-letter', attempts: 1, error: 'boom' },
    ],
    [
      'an event younger than maxAgeSeconds is retried',
      failed,
      state(1, 0, 59_000, 60),
      { kind: 'retry', failure: { attempts: 1, retryAt: NOW + 750, error: 'boom' } },
    ],
    [
      'a throttled batch is sent again whole after its Retry-After',
      { status: 'throttled', error: '429', retryAfterMs: 2_000 },
      state(5),
      { kind: 'wait', failure: { attempts: 1, retryAt: NOW + 2_000, error: '429' } },
    ],
    [
      'a throttled batch with no Retry-After waits for the backoff, and is not halved',
      { status: 'throttled', error: '503' },
      state(5, 1),
      { kind: 'wait', failure: { attempts: 2, retryAt: NOW + 1_500, error: '503' } },
    ],
    [
      'a throttle counts against the attempts: the last one dead-letters the first event',
      { status: 'throttled', error: '429', retryAfterMs: 2_000 },
      state(5, 2),
      { kind: 'dead-letter', attempts: 3, error: '429', resumeAt: NOW + 2_000 },
    ],
    [
      'a throttled batch older than maxAgeSeconds dead-letters its first event',
      { status: 'throttled', error: '429' },
      state(5, 0, 61_000, 60),
      { kind: 'dead-letter', attempts: 1, error: '429', resumeAt: NOW + 750 },
    ],
  ])('%s', (_, outcome, given, expected) => {
    expect(decide(outcome, given)).toEqual(expected);
  });

  test('an error longer than a cursor keeps is cut', () => {
    const action = decide({ status: 'failed', error: 'x'.repeat(5_000) }, state(1, 2));
    expect(action.kind === 'dead-letter' && action.error.length).toBe(1_000);
  });
});
