import type { DeliveryResponse } from '../../../protocol';

/** What one delivery of a batch came to. */
export type DeliveryOutcome =
  | { readonly status: 'delivered' }
  /** The target reported these offsets (at least one, all in the batch) as failed: the lowest decides. */
  | { readonly status: 'partial'; readonly lowestFailed: number; readonly error: string }
  | { readonly status: 'failed'; readonly error: string }
  /**
   * The target asked the bus to slow down (HTTP 429 or 503, Lambda's throttling): nothing in the batch is
   * at fault, so it is sent again whole, after `retryAfterMs` when the target said how long.
   */
  | { readonly status: 'throttled'; readonly error: string; readonly retryAfterMs?: number }
  /** A target topic refused the batch's first event for good (its schema, its limits): no retry can help. */
  | { readonly status: 'refused'; readonly error: string }
  /**
   * The bus's own storage could not take a topic target's batch (throttled, down, an append in doubt):
   * nothing in it is at fault, and giving up on an event could append it twice, so it is never dead-lettered.
   */
  | { readonly status: 'unavailable'; readonly error: string; readonly retryAfterMs?: number };

/** One batch on its way: the JSON the target receives, and the offsets it covers. */
export interface OutgoingBatch {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
  /** The `DeliveryBatch` as JSON text (shared/events/event-view.ts renders the events). */
  readonly body: string;
}

/** Delivers a batch to a subscription's target: a Lambda function or a webhook. */
export interface DeliveryTargetClient {
  deliver(batch: OutgoingBatch): Promise<DeliveryOutcome>;
}

/** A target's `Retry-After` is followed up to this long; a longer one is cut to it. */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

/**
 * How long a target asked to wait, from a `Retry-After` value: seconds
 * (`"120"`) or an HTTP date (`"Wed, 21 Oct 2026 07:28:00 GMT"`), at most
 * `MAX_RETRY_AFTER_MS`. Undefined when absent or unreadable, so backoff decides.
 *
 * @example
 * retryAfterMs('2', Date.now()); // 2000
 */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/** Longest error text kept in a cursor and in a dead letter's headers. */
export const MAX_ERROR_CHARS = 1_000;

export function truncateError(message: string): string {
  return message.length > MAX_ERROR_CHARS ? `${message.slice(0, MAX_ERROR_CHARS - 1)}…` : message;
}

/**
 * Reads a target's answer: nothing (or anything that is not a failure list)
 * means every event succeeded; a `batchItemFailures` list names failed
 * offsets. A list naming offsets outside the batch fails the whole batch,
 * since the bus cannot tell what the target meant.
 */
export function outcomeOfAnswer(answer: string, batch: OutgoingBatch): DeliveryOutcome {
  let parsed: DeliveryResponse | undefined;
  try {
    parsed = answer.trim() === '' ? undefined : (JSON.parse(answer) as DeliveryResponse);
  } catch {
    return { status: 'delivered' };
  }
  const failures = parsed && typeof parsed === 'object' ? parsed.batchItemFailures : undefined;
  if (!Array.isArray(failures) || failures.length === 0) return { status: 'delivered' };
  const offsets = failures.map((failure) => Number(failure?.itemIdentifier));
  if (
    offsets.some(
      (offset) => !Number.isSafeInteger(offset) || offset < batch.firstOffset || offset > batch.lastOffset,
    )
  ) {
    return {
      status: 'failed',
      error: `the target answered batchItemFailures naming offsets outside ${batch.firstOffset}..${batch.lastOffset}`,
    };
  }
  const lowestFailed = Math.min(...offsets);
  const reason = failures[offsets.indexOf(lowestFailed)]?.error;
  return {
    status: 'partial',
    lowestFailed,
    error:
      typeof reason === 'string' && reason !== ''
        ? reason
        : `the target reported offset ${lowestFailed} as failed`,
  };
}
