import { eventJson } from '../events/event-view';
import type { LogRecord } from '../segment/codec';
import { compileEventPattern, type EventMatcher } from './event-pattern';
import { compileTransform, type EventTransform, type TransformInput } from './transform';

/** A subscription's routing, compiled once: which events it wants, what shape and (into a topic) what key. */
export interface Routing {
  readonly filter?: EventMatcher;
  readonly transform?: EventTransform;
  /** A topic target's key expression: its result keys the event appended. */
  readonly key?: EventTransform;
}

/** What one page of a partition becomes for a subscription with routing. */
export interface RoutedPage {
  /** The events to deliver, in offset order, with their transformed values. */
  readonly records: LogRecord[];
  /** The offset after the last event this page decided about: filtered-out events below it are done. */
  readonly next: number;
  /** Events the filter left out. */
  readonly filtered: number;
  /** Set when the first event to deliver failed its transform: it alone is the page, and this is why. */
  readonly failure?: string;
}

/**
 * Compiles a subscription's filter and transform; undefined when it has
 * neither (its events go as stored). Patterns and expressions were validated
 * when the subscription was declared, so this does not throw for a stored one.
 */
export function routingOf(subscription: {
  readonly filter?: Readonly<Record<string, unknown>>;
  readonly transform?: { readonly jsonata: string };
  readonly target?: { readonly type: string; readonly key?: string };
}): Routing | undefined {
  const key = subscription.target?.type === 'topic' ? subscription.target.key : undefined;
  if (!subscription.filter && !subscription.transform && key === undefined) return undefined;
  return {
    filter: subscription.filter ? compileEventPattern(subscription.filter) : undefined,
    transform: subscription.transform ? compileTransform(subscription.transform.jsonata) : undefined,
    key: key === undefined ? undefined : compileTransform(key, 'target.key'),
  };
}

/**
 * Applies routing to a page read from the log, keeping offset order: events
 * the filter leaves out are skipped; each other event is transformed, and at
 * most `max` are kept. An event whose transform fails ends the page before it,
 * or, when it comes first, is the page alone with its failure — so it is
 * retried and dead-lettered like any event its target refused.
 */
export async function routePage(
  routing: Routing,
  records: readonly LogRecord[],
  place: { readonly topic: string; readonly partition: number; readonly skipFilter?: boolean },
  max: number,
): Promise<RoutedPage> {
  const out: LogRecord[] = [];
  let filtered = 0;
  for (const record of records) {
    const view = JSON.parse(eventJson(record)) as {
      key: string | null;
      value: unknown;
      headers: Record<string, string>;
    };
    if (
      routing.filter &&
      !place.skipFilter &&
      !routing.filter.matches({ key: view.key, value: view.value, headers: view.headers })
    ) {
      filtered++;
      continue;
    }
    const routed = await reshape(routing, record, {
      key: view.key,
      value: view.value,
      headers: view.headers,
      topic: place.topic,
      partition: place.partition,
      offset: record.offset,
      timestamp: new Date(record.timestamp).toISOString(),
    });
    if (typeof routed === 'string') {
      if (out.length > 0) return { records: out, next: record.offset, filtered };
      return { records: [record], next: record.offset + 1, filtered, failure: routed };
    }
    out.push(routed);
    if (out.length === max) return { records: out, next: record.offset + 1, filtered };
  }
  return { records: out, next: (records.at(-1)?.offset ?? -1) + 1, filtered };
}

/** An event with its transformed value and computed key; the error's text when either expression fails. */
async function reshape(
  routing: Routing,
  record: LogRecord,
  input: TransformInput,
): Promise<LogRecord | string> {
  let reshaped = record;
  if (routing.transform) {
    const outcome = await routing.transform.apply(input);
    if (!outcome.ok) return outcome.error;
    reshaped = { ...reshaped, value: Buffer.from(JSON.stringify(outcome.value)), json: true };
  }
  if (routing.key) {
    const outcome = await routing.key.apply(input);
    if (!outcome.ok) return `the target's key expression failed: ${outcome.error}`;
    const { value } = outcome;
    if (value !== null && typeof value === 'object')
      return `the target's key expression must yield a string, a number or null, not ${Array.isArray(value) ? 'an array' : 'an object'}`;
    reshaped = { ...reshaped, key: value === null ? null : Buffer.from(String(value)) };
  }
  return reshaped;
}
