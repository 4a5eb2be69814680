import { z } from 'zod';
import { Filter, jsonata, Transform } from '../delivery/subscription';
import { InvalidRequestError, OffsetOutOfRangeError } from '../errors';
import { MAX_EVENTS_RESPONSE_BYTES } from '../events/event-view';
import type { Log } from '../log/log';
import { TopicName } from '../names';
import { partitionNamed } from '../registry/topic';
import type { TopicRegistry } from '../registry/topic-registry';
import { type Routing, reshapeEvent, routingOf, transformInput } from '../routing/route';
import type { TransformInput } from '../routing/transform';
import { isIsoDateTime, validate } from '../validation';
import type { TopicCheck } from './subscriptions';

/** Events one routing test reads from a topic, at most (a read's own bound). */
export const MAX_ROUTING_TEST_EVENTS = 1_000;
/** Sample events one routing test takes, at most (a publish's own bound). */
export const MAX_ROUTING_TEST_SAMPLES = 1_000;
const DEFAULT_LIMIT = 100;

const SampleEvent = z
  .strictObject(
    {
      key: z.string().nullable().optional(),
      value: z.unknown().meta({ description: 'Any JSON: the event value as a consumer would read it.' }),
      headers: z.record(z.string(), z.string()).optional(),
    },
    { error: 'Each of "events" is {"key"?, "value", "headers"?}, nothing else.' },
  )
  .refine((event) => Object.hasOwn(event, 'value'), { error: 'Each of "events" needs a "value".' });

const FROM_RULE =
  '"from" must be "earliest", {"timestamp": ISO-8601} or {"offsets": {"<partition>": offset}}.';
const From = z.union(
  [
    z.literal('earliest'),
    z.strictObject({
      timestamp: z
        .string({ error: '"from.timestamp" must be an ISO-8601 date-time.' })
        .refine(isIsoDateTime, { error: '"from.timestamp" must be an ISO-8601 date-time.' }),
    }),
    z.strictObject({
      offsets: z
        .record(z.string(), z.int().min(0), {
          error: '"from.offsets" must map partitions to offsets, e.g. {"0": 42}.',
        })
        .meta({ example: { '0': 42 } }),
    }),
  ],
  { error: FROM_RULE },
);

/**
 * What `POST /routing/test` takes: a subscription's routing (its `filter`,
 * `transform` and a topic target's `key`, checked by the very rules `PUT
 * /subscriptions` applies) and what to try it on — sample `events`, or
 * events retained in `topic`.
 */
export const RoutingTestBody = z
  .strictObject(
    {
      filter: Filter.optional(),
      transform: Transform.optional(),
      key: jsonata('key', { deterministic: true }).optional().meta({
        description: "A topic target's key: a JSONata expression over the transform's input.",
      }),
      events: z
        .array(SampleEvent, { error: '"events" must be a list of {"key"?, "value", "headers"?}.' })
        .min(1, { error: '"events" must hold at least one event.' })
        .max(MAX_ROUTING_TEST_SAMPLES, {
          error: `"events" holds at most ${MAX_ROUTING_TEST_SAMPLES} events.`,
        })
        .optional()
        .meta({ description: 'Sample events to try; without them, `topic` is read.' }),
      topic: TopicName.optional().meta({
        description:
          "Without `events`: the topic whose retained events are tried (needs `read` on it). With `events`: the topic the transform's input names.",
      }),
      from: From.optional().meta({
        description:
          'Where reading `topic` starts: the oldest retained events (default), a time, or offsets of the partitions to read (only those).',
      }),
      limit: z
        .int({ error: `"limit" must be an integer from 1 to ${MAX_ROUTING_TEST_EVENTS}.` })
        .min(1, { error: `"limit" must be an integer from 1 to ${MAX_ROUTING_TEST_EVENTS}.` })
        .max(MAX_ROUTING_TEST_EVENTS, {
          error: `"limit" must be an integer from 1 to ${MAX_ROUTING_TEST_EVENTS}.`,
        })
        .optional()
        .meta({
          description: `Events of \`topic\` read at most, over all its partitions; default ${DEFAULT_LIMIT}.`,
        }),
    },
    {
      error:
        'The body must be an object: {"filter"?, "transform"?, "key"?, and "events": [...] or "topic" (with "from"?, "limit"?)}.',
    },
  )
  .meta({
    id: 'RoutingTestRequest',
    example: {
      filter: { value: { total: [{ numeric: ['>', 100] }] } },
      transform: { jsonata: '{"id": key, "total": value.total}' },
      topic: 'orders',
      limit: 500,
    },
  });

export type RoutingTest = z.output<typeof RoutingTestBody>;

/** What routing does with one event: left out, reshaped (its value and key), or failed (why). */
export type RoutingTestResult = {
  /** A sample's index in `events`. */
  readonly index?: number;
  /** A retained event's place. */
  readonly partition?: number;
  readonly offset?: number;
} & (
  | { readonly matched: false }
  | { readonly matched: true; readonly value: unknown; readonly key: string | null }
  | { readonly matched: true; readonly error: string }
);

export interface RoutingTestAnswer {
  readonly results: RoutingTestResult[];
  readonly counts: { readonly read: number; readonly matched: number; readonly failed: number };
  /** Reading a topic: where to go on from, per partition (as `from.offsets`). */
  readonly next?: { readonly offsets: Record<string, number> };
}

/** One event as routing sees it: the filter's view and the transform's input. */
interface TestedEvent {
  readonly place: { index: number } | { partition: number; offset: number };
  readonly input: TransformInput;
}

/**
 * Tries a subscription's routing without delivering or writing anything:
 * the filter, the transform and a topic target's key run as the deliverer
 * runs them (shared/routing/route.ts), over sample events or over a topic's
 * retained events, and the answer says per event whether it matched and
 * what the target would get. EventBridge's TestEventPattern, over the log.
 */
export class RoutingService {
  constructor(
    private readonly topics: TopicRegistry,
    private readonly log: Log,
    private readonly now: () => number = Date.now,
  ) {}

  /** A `POST /routing/test` body checked (INVALID_REQUEST with `PUT /subscriptions`'s messages otherwise). */
  parse(body: unknown): RoutingTest {
    const test = validate(RoutingTestBody, body);
    if (test.events === undefined && test.topic === undefined) {
      throw new InvalidRequestError('Give sample "events", or a "topic" whose retained events to try.');
    }
    if (test.events !== undefined && (test.from !== undefined || test.limit !== undefined)) {
      throw new InvalidRequestError(
        '"from" and "limit" are for reading a topic; they cannot go with "events".',
      );
    }
    return test;
  }

  /**
   * Runs the routing over the samples, or over up to `limit` events of the
   * topic (once `check` allowed reading it), spread over its partitions.
   */
  async test(test: RoutingTest, check: TopicCheck): Promise<RoutingTestAnswer> {
    const routing = routingOf({
      filter: test.filter,
      transform: test.transform,
      target: test.key === undefined ? undefined : { type: 'topic', key: test.key },
    });
    if (test.events) {
      const timestamp = new Date(this.now()).toISOString();
      const tested = test.events.map(
        (event, index): TestedEvent => ({
          place: { index },
          input: {
            key: event.key ?? null,
            value: event.value,
            headers: event.headers ?? {},
            topic: test.topic ?? '',
            partition: 0,
            offset: index,
            timestamp,
          },
        }),
      );
      return (await this.run(routing, tested)).answer;
    }
    const topic = test.topic as string;
    check(topic);
    const { tested, ends } = await this.readRetained(
      topic,
      test.from ?? 'earliest',
      test.limit ?? DEFAULT_LIMIT,
    );
    const { answer, reported } = await this.run(routing, tested);
    // Where each partition goes on from: past what was reported, or past what was read.
    const offsets: Record<string, number> = {};
    for (const [partition, end] of ends) offsets[partition] = end;
    for (const { place } of tested.slice(reported)) {
      if ('partition' in place) offsets[place.partition] = Math.min(offsets[place.partition], place.offset);
    }
    return { ...answer, next: { offsets } };
  }

  /** The events reported, in order, until the answer would pass what one answer may carry. */
  private async run(
    routing: Routing | undefined,
    tested: readonly TestedEvent[],
  ): Promise<{ answer: RoutingTestAnswer; reported: number }> {
    const results: RoutingTestResult[] = [];
    let matched = 0;
    let failed = 0;
    let bytes = 0;
    for (const { place, input } of tested) {
      const result = { ...place, ...(await routeOne(routing, input)) } as RoutingTestResult;
      bytes += JSON.stringify(result).length + 1;
      if (bytes > MAX_EVENTS_RESPONSE_BYTES && results.length > 0) break;
      results.push(result);
      if (result.matched) matched++;
      if ('error' in result) failed++;
    }
    return {
      answer: { results, counts: { read: results.length, matched, failed } },
      reported: results.length,
    };
  }

  /**
   * Up to `limit` events of the topic, read a page per partition in turn so
   * every partition read is tried, and where each partition's reading ended.
   */
  private async readRetained(
    name: string,
    from: NonNullable<RoutingTest['from']>,
    limit: number,
  ): Promise<{ tested: TestedEvent[]; ends: Map<number, number> }> {
    const topic = await this.topics.get(name);
    const starts = new Map<number, number>();
    if (typeof from === 'object' && 'offsets' in from) {
      for (const [key, offset] of Object.entries(from.offsets))
        starts.set(partitionNamed(topic, key), offset);
      if (starts.size === 0)
        throw new InvalidRequestError('"from.offsets" must map partitions to offsets, e.g. {"0": 42}.');
    } else {
      for (let partition = 0; partition < topic.partitions; partition++) {
        starts.set(
          partition,
          from === 'earliest'
            ? (await this.log.offsets(topic.name, partition)).startOffset
            : await this.log.offsetForTimestamp(topic.name, partition, Date.parse(from.timestamp)),
        );
      }
    }
    const tested: TestedEvent[] = [];
    const ends = new Map(starts);
    const open = new Set(starts.keys());
    while (open.size > 0 && tested.length < limit) {
      const share = Math.max(1, Math.ceil((limit - tested.length) / open.size));
      for (const partition of [...open]) {
        const want = Math.min(share, limit - tested.length);
        if (want === 0) break;
        const { records, nextOffset } = await this.readFrom(
          topic.name,
          partition,
          ends.get(partition) as number,
          want,
        );
        for (const record of records) {
          tested.push({
            place: { partition, offset: record.offset },
            input: transformInput(record, { topic: topic.name, partition }),
          });
        }
        ends.set(partition, nextOffset);
        if (records.length === 0) open.delete(partition);
      }
    }
    return { tested, ends };
  }

  /** A page from `offset`; one below the oldest retained event reads from that event (as `earliest` would). */
  private async readFrom(topic: string, partition: number, offset: number, limit: number) {
    try {
      return await this.log.read(topic, partition, offset, limit);
    } catch (error) {
      if (!(error instanceof OffsetOutOfRangeError)) throw error;
      return this.log.read(topic, partition, error.startOffset, limit);
    }
  }
}

/** One event through the routing: as the deliverer decides it (filter, then transform and key). */
async function routeOne(
  routing: Routing | undefined,
  input: TransformInput,
): Promise<
  | { matched: false }
  | { matched: true; value: unknown; key: string | null }
  | { matched: true; error: string }
> {
  if (
    routing?.filter &&
    !routing.filter.matches({ key: input.key, value: input.value, headers: input.headers })
  ) {
    return { matched: false };
  }
  const reshaped = routing ? await reshapeEvent(routing, input) : {};
  if (typeof reshaped === 'string') return { matched: true, error: reshaped };
  return {
    matched: true,
    value: reshaped.value ? JSON.parse(reshaped.value.json) : input.value,
    key: reshaped.key ? reshaped.key.text : input.key,
  };
}
