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
    key: key === undefined ? undefined : compileTransform(key, { field: 'target.key' }),
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
    const input = transformInput(record, place);
    if (
      routing.filter &&
      !place.skipFilter &&
      !routing.filter.matches({ key: input.key, value: input.value, headers: input.headers })
    ) {
      filtered++;
      continue;
    }
    const routed = await reshape(routing, record, input);
    if (typeof routed === 'string') {
      if (out.length > 0) return { records: out, next: record.offset, filtered };
      return { records: [record], next: record.offset + 1, filtered, failure: routed };
    }
    out.push(routed);
    if (out.length === max) return { records: out, next: record.offset + 1, filtered };
  }
  return { records: out, next: (records.at(-1)?.offset ?? -1) + 1, filtered };
}

/**
 * What a filter and a transform see of a stored event: its key, value and
 * headers as readers get them, and where it sits. The deliverer and `POST
 * /routing/test` both build it here.
 */
export function transformInput(
  record: LogRecord,
  place: { readonly topic: string; readonly partition: number },
): TransformInput {
  const view: Pick<TransformInput, 'key' | 'value' | 'headers'> = record.json
    ? {
        // A JSON value (nearly every event) is parsed alone, not inside the whole event's text.
        key: record.key === null ? null : record.key.toString('utf8'),
        value: JSON.parse(record.value.toString('utf8')),
        // A copy, as a reader's JSON has it: headers named `__proto__` stay own members, and nothing shares the record's.
        headers: JSON.parse(JSON.stringify(record.headers)),
      }
    : JSON.parse(eventJson(record));
  return {
    key: view.key,
    value: view.value,
    headers: view.headers,
    topic: place.topic,
    partition: place.partition,
    offset: record.offset,
    timestamp: new Date(record.timestamp).toISOString(),
  };
}

/**
 * What routing makes of one matching event: its transformed value as JSON text (when
 * there is a transform) and its computed key (when a topic target has a key
 * expression); the error's text when either expression fails. The deliverer
 * and `POST /routing/test` both call it, so a preview is what delivery does.
 */
export async function reshapeEvent(
  routing: Routing,
  input: TransformInput,
): Promise<
  { readonly value?: { readonly json: string }; readonly key?: { readonly text: string | null } } | string
> {
  let value: { json: string } | undefined;
  if (routing.transform) {
    // As JSON text: the bytes a target receives, made once.
    const outcome = await routing.transform.render(input);
    if (!outcome.ok) return outcome.error;
    value = { json: outcome.json };
  }
  if (!routing.key) return { value };
  const outcome = await routing.key.apply(input);
  if (!outcome.ok) return `the target's key expression failed: ${outcome.error}`;
  const key = outcome.value;
  if (key !== null && typeof key === 'object')
    return `the target's key expression must yield a string, a number or null, not ${Array.isArray(key) ? 'an array' : 'an object'}`;
  return { value, key: { text: key === null ? null : String(key) } };
}

/** An event with its transformed value and computed key; the error's text when either expression fails. */
async function reshape(
  routing: Routing,
  record: LogRecord,
  input: TransformInput,
): Promise<LogRecord | string> {
  const reshaped = await reshapeEvent(routing, input);
  if (typeof reshaped === 'string') return reshaped;
  return {
    ...record,
    ...(reshaped.value ? { value: Buffer.from(reshaped.value.json), json: true } : {}),
    ...(reshaped.key ? { key: reshaped.key.text === null ? null : Buffer.from(reshaped.key.text) } : {}),
  };
}
