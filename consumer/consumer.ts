import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { DEAD_LETTER_HEADERS, type DeliveryBatch, type DeliveryResponse, type EventView } from '../protocol';

/** One delivered event, with where it comes from; `V` is its value's type (`unknown` unless given). */
export interface ConsumedEvent<V = unknown> extends EventView<V> {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** What identifies the event for idempotency (see `eventIdOf`). */
  readonly id: string;
}

/**
 * `V` is what the handler takes the events' values to be — the type `eventbus schemas codegen` wrote for
 * the topic, say; not checked at run time (the topic's schema is what guarantees it). `R` is what
 * `processEvent` returns.
 */
export interface ConsumerOptions<V = unknown, R = unknown> {
  /** Processes one event; a throw marks it failed (and, by default, stops the batch there). */
  readonly processEvent: (event: ConsumedEvent<V>, context: Context) => Promise<R> | R;
  /**
   * What to do with the events after a failed one. `stop` (the default) leaves them: the bus delivers
   * the failed event and everything after it again, in order, so processing them now would only do
   * their work twice and before the failed event's. `continue` processes them and reports every failure
   * (useful when events are independent and processing is idempotent).
   * @default 'stop'
   */
  readonly afterFailure?: 'stop' | 'continue';
  /**
   * Skip events already processed: each success is recorded in a DynamoDB table with a conditional
   * write (Powertools idempotency), keyed by `eventIdOf`, so a redelivered event is not processed again.
   * Give the table's name (its partition key is `id`, a string; TTL on `expiration`), or a Powertools
   * persistence layer.
   * @default no records: every delivery is processed
   */
  readonly idempotency?:
    | { readonly tableName: string; readonly expiresAfterSeconds?: number }
    | { readonly persistenceStore: BasePersistenceLayer; readonly expiresAfterSeconds?: number };
}

/**
 * What identifies an event across deliveries: the CloudEvent's `source` and
 * `id` when it has them (the producer's own identity, stable even if it was
 * published twice); else, for a redriven dead letter, its origin; else its
 * group, topic, partition and offset.
 */
export function eventIdOf(
  batch: Pick<DeliveryBatch, 'group' | 'topic' | 'partition'>,
  event: EventView<unknown>,
): string {
  const { headers } = event;
  if (headers.ce_id && headers.ce_source) return `ce:${headers.ce_source}:${headers.ce_id}`;
  const originTopic = headers[DEAD_LETTER_HEADERS.topic];
  if (originTopic !== undefined) {
    return `${batch.group}:${originTopic}:${headers[DEAD_LETTER_HEADERS.partition]}:${headers[DEAD_LETTER_HEADERS.offset]}`;
  }
  return `${batch.group}:${batch.topic}:${batch.partition}:${event.offset}`;
}

function isDeliveryBatch(event: unknown): event is DeliveryBatch {
  const batch = event as DeliveryBatch;
  return (
    typeof batch === 'object' &&
    batch !== null &&
    typeof batch.group === 'string' &&
    typeof batch.topic === 'string' &&
    Number.isInteger(batch.partition) &&
    Array.isArray(batch.events)
  );
}

/**
 * A middy middleware for Lambda functions subscribed to the bus: it
 * processes the batch one event at a time in offset order with
 * `processEvent`, and answers the bus with the events that failed
 * (`batchItemFailures`), so the bus commits everything before the first
 * failure and delivers the rest again. It answers in `before`, so the
 * function's own handler is not called: give it `async () => {}`, or use
 * `createConsumer`.
 *
 * Guarantees: at-least-once delivery in order per partition (the bus's);
 * with `idempotency`, each event's processing *completes* at most once per
 * id — a processing that crashed midway is run again, so effects outside
 * the one recorded completion (a call to another service, an email) must be
 * idempotent themselves or they may happen twice.
 *
 * @example
 * export const handler = middy()
 *   .use(eventbusConsumer({ processEvent: async (event) => bill(event.value), idempotency: { tableName: 'billing-processed' } }))
 *   .handler(async () => {});
 */
export function eventbusConsumer<V = unknown, R = unknown>(
  options: ConsumerOptions<V, R>,
): middy.MiddlewareObj<DeliveryBatch, DeliveryResponse, Error, Context> {
  const { processEvent, afterFailure = 'stop' } = options;
  let process = async (event: ConsumedEvent<V>, context: Context): Promise<unknown> =>
    processEvent(event, context);
  let config: IdempotencyConfig | undefined;
  if (options.idempotency) {
    config = new IdempotencyConfig({
      eventKeyJmesPath: 'id',
      expiresAfterSeconds: options.idempotency.expiresAfterSeconds ?? 7 * 24 * 3600,
    });
    const persistenceStore =
      'persistenceStore' in options.idempotency
        ? options.idempotency.persistenceStore
        : new DynamoDBPersistenceLayer({ tableName: options.idempotency.tableName });
    // One argument, whose `id` is the key: the record is about the event, not the invocation.
    const once = makeIdempotent(
      async (input: { id: string; event: ConsumedEvent<V>; context: Context }) =>
        processEvent(input.event, input.context),
      { persistenceStore, config },
    );
    process = (event, context) => once({ id: event.id, event, context });
  }
  return {
    before: async (request) => {
      const batch = request.event;
      if (!isDeliveryBatch(batch)) {
        throw new TypeError(
          'eventbusConsumer: the event is not a delivery batch {"group", "topic", "partition", "events"}.',
        );
      }
      config?.registerLambdaContext(request.context);
      const failed: { itemIdentifier: string; error: string }[] = [];
      for (const view of batch.events) {
        const event = {
          ...(view as EventView<unknown> as EventView<V>),
          group: batch.group,
          topic: batch.topic,
          partition: batch.partition,
          id: eventIdOf(batch, view),
        } satisfies ConsumedEvent<V>;
        try {
          await process(event, request.context);
        } catch (error) {
          failed.push({ itemIdentifier: String(view.offset), error: describeError(error) });
          if (afterFailure === 'stop') break;
        }
      }
      request.response = { batchItemFailures: failed };
      return request.response;
    },
  };
}

/**
 * A Lambda handler for a subscription, built from `eventbusConsumer`.
 *
 * @example
 * export const handler = createConsumer(async (event) => {
 *   await recordPayment(event.value);
 * }, { idempotency: { tableName: process.env.PROCESSED_TABLE as string } });
 *
 * // Typed by the topic's schema (`eventbus schemas codegen orders.created > orders.ts`):
 * export const typed = createConsumer<OrdersCreated>(async ({ value }) => ship(value.id, value.items ?? []));
 */
export function createConsumer<V = unknown, R = unknown>(
  processEvent: ConsumerOptions<V, R>['processEvent'],
  options: Omit<ConsumerOptions<V, R>, 'processEvent'> = {},
) {
  return middy<DeliveryBatch, DeliveryResponse, Error, Context>()
    .use(eventbusConsumer<V, R>({ ...options, processEvent }))
    .handler(async () => ({ batchItemFailures: [] }));
}

/** The reason the bus keeps for a failed event: the error's type and message, bounded. */
function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, 500);
}
