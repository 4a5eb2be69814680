import { DEAD_LETTER_HEADERS, partitionForKey } from '../../protocol';
import type { TopicTarget } from '../delivery/subscription';
import type { DeliveryOutcome } from '../delivery/targets/target';
import { BusError } from '../errors';
import type { AppendResult } from '../log/appender';
import type { IdempotentAppends } from '../publish/idempotent-appends';
import type { PublishLimits } from '../publish/limits';
import { checkLimits } from '../publish/limits';
import type { TopicConfig } from '../registry/topic';
import type { TopicRegistry } from '../registry/topic-registry';
import { SCHEMA_VERSION_HEADER, SchemaViolationError } from '../schemas/schema-errors';
import type { TopicSchemas } from '../schemas/topic-schemas';
import type { LogRecord, SegmentRecord } from '../segment/codec';

/** The header naming where a routed event came from: `<topic>/<partition>/<offset>`. */
export const ORIGIN_HEADER = 'eventbus-origin';

/** Where a topic target's batch comes from: the source range it covers, and whose route it is. */
export interface RouteSource {
  /**
   * The route's identity: the cursor, the subscription's creation and the cursor's generation. A reset
   * (a replay) or a group created again under the same name routes afresh; a retry of the same range does not.
   */
  readonly scope: string;
  readonly topic: string;
  readonly partition: number;
  /** The source range appended: from `from` (the committed offset) up to `until`. */
  readonly from: number;
  readonly until: number;
}

/** A page's events made ready for the target topic, and the first one it refuses, if any. */
export interface Admission {
  readonly topic: TopicConfig | undefined;
  /** Every event of the page as the target gets it, in offset order. */
  readonly ready: readonly { readonly offset: number; readonly record: SegmentRecord }[];
  /** The first event the target topic refuses for good, and why: the events before it may go. */
  readonly refused?: { readonly offset: number; readonly error: string };
}

export interface TopicTargetsOptions {
  readonly topics: TopicRegistry;
  readonly appends: IdempotentAppends;
  /** The target topics' schemas: an event one refuses is dead-lettered, never appended. */
  readonly schemas?: Pick<TopicSchemas, 'check'>;
  /** What one event may carry, as at publish. */
  readonly limits: PublishLimits;
  readonly now?: () => number;
}

/**
 * A topic target: appends a subscription's routed events to another topic,
 * exactly once per source event (docs/adr/0020). The deliverer fixes each
 * batch's source range on the cursor before appending; the append of each
 * target partition's share is idempotent, keyed by that range, so whatever
 * fault hits — the append landed and its answer was lost, the commit lost,
 * the deliverer killed, its lease taken over — the next attempt finds what
 * landed instead of appending it again.
 */
export class TopicTargets {
  private readonly now: () => number;

  constructor(private readonly options: TopicTargetsOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The events as the target topic gets them — the source's headers without
   * the bus's own, plus `eventbus-origin` and the target schema's version —
   * and the first the target refuses: over its limits, against its schema,
   * or every event when the topic is gone.
   */
  async admit(target: TopicTarget, source: RouteSource, records: readonly LogRecord[]): Promise<Admission> {
    const topic = await this.options.topics.find(target.topic);
    const first = records[0];
    if (!topic) {
      return {
        topic,
        ready: [],
        refused: { offset: first.offset, error: `the target topic "${target.topic}" does not exist` },
      };
    }
    const timestamp = this.now();
    const ready = records.map((record) => ({
      offset: record.offset,
      record: {
        timestamp,
        key: record.key,
        value: record.value,
        json: record.json,
        headers: routedHeaders(record, source),
      } satisfies SegmentRecord,
    }));
    const refused = await this.firstRefused(topic, ready);
    return { topic, ready, refused };
  }

  /**
   * Appends the admitted events of one source range: each target partition's
   * share as one segment, at most once per range. A refusal by storage is
   * 'unavailable' (the same range goes again later), never a failure of an event.
   */
  async append(
    topic: TopicConfig,
    source: RouteSource,
    ready: readonly { readonly record: SegmentRecord }[],
  ): Promise<DeliveryOutcome> {
    const shares = new Map<number, SegmentRecord[]>();
    for (const { record } of ready) {
      const partition =
        record.key === null
          ? // Keyless events stay together as they were in the source, and land where a retry puts them too.
            source.partition % topic.partitions
          : partitionForKey(record.key.toString('utf8'), topic.partitions);
      const share = shares.get(partition);
      if (share) share.push(record);
      else shares.set(partition, [record]);
    }
    try {
      await Promise.all(
        [...shares].map(
          ([partition, records]): Promise<AppendResult> =>
            this.options.appends.append({
              scope: source.scope,
              idempotencyKey: `${source.topic}/${source.partition}/${source.from}`,
              topic: topic.name,
              partition,
              retentionHours: topic.retentionHours,
              records,
              identity: `${source.from}-${source.until}`,
            }),
        ),
      );
      return { status: 'delivered' };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // An append still in progress (a stalled holder's, until its lock lapses) or throttled storage says when.
      const retryAfterMs =
        error instanceof BusError && error.retryAfterSeconds !== undefined
          ? error.retryAfterSeconds * 1000
          : undefined;
      return {
        status: 'unavailable',
        error: `appending to "${topic.name}" failed: ${message}`,
        retryAfterMs,
      };
    }
  }

  /** The first event the target topic refuses: its limits first, then its schema. */
  private async firstRefused(topic: TopicConfig, ready: Admission['ready']): Promise<Admission['refused']> {
    for (const { offset, record } of ready) {
      try {
        checkLimits([{ ...record, key: record.key?.toString('utf8') ?? null }], this.options.limits);
      } catch (error) {
        if (!(error instanceof BusError)) throw error;
        return { offset, error: `the target topic "${topic.name}" refused it: ${error.message}` };
      }
    }
    if (!this.options.schemas) return undefined;
    let valid = ready.length;
    let refused: Admission['refused'];
    let version: number | undefined;
    try {
      version = await this.options.schemas.check(
        topic.name,
        ready.map(({ record }) => (record.json ? record.value.toString('utf8') : undefined)),
      );
    } catch (error) {
      if (!(error instanceof SchemaViolationError)) throw error;
      // The values before the first refused one were checked and passed.
      valid = error.index;
      version = error.details?.version as number;
      const why = error.message.replace(/^Event \d+ /, 'its value ').replace(/; nothing was appended\.$/, '');
      refused = { offset: ready[valid].offset, error: `the target topic "${topic.name}" refused it: ${why}` };
    }
    if (version !== undefined) {
      for (const { record } of ready.slice(0, valid)) record.headers[SCHEMA_VERSION_HEADER] = String(version);
    }
    return refused;
  }
}

/**
 * A routed event's headers: the source's, less what the bus wrote for the
 * source (its schema version, a dead letter's bookkeeping), plus where it
 * came from — for a redriven dead letter, the event it was.
 */
function routedHeaders(record: LogRecord, source: RouteSource): Record<string, string> {
  const headers: Record<string, string> = Object.create(null);
  const dead = record.headers[DEAD_LETTER_HEADERS.topic] !== undefined;
  const origin = dead
    ? `${record.headers[DEAD_LETTER_HEADERS.topic]}/${record.headers[DEAD_LETTER_HEADERS.partition]}/${record.headers[DEAD_LETTER_HEADERS.offset]}`
    : `${source.topic}/${source.partition}/${record.offset}`;
  const bookkeeping = new Set<string>([SCHEMA_VERSION_HEADER, ...Object.values(DEAD_LETTER_HEADERS)]);
  for (const [name, value] of Object.entries(record.headers)) {
    if (!bookkeeping.has(name)) headers[name] = value;
  }
  headers[ORIGIN_HEADER] = origin;
  return headers;
}
