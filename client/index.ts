/**
 * `@eventbus/client`: a typed client for the bus's HTTP API and a batching
 * Producer, on `fetch` alone (browsers, Node 20+, Lambda).
 *
 * @example
 * import { EventBusClient, Producer } from '@eventbus/client';
 */

export {
  DEAD_LETTER_HEADERS,
  describeTarget,
  ERROR_CODES,
  type ErrorCode,
  type EventView,
  isErrorCode,
  type JsonValue,
  partitionForKey,
} from '../protocol';
export type * from '../protocol/api';
export * from './errors';
export {
  type CallOptions,
  type ConsumedEvent,
  EventBusClient,
  type EventBusClientOptions,
  type OffsetReset,
  type PublishOptions,
  type ReadOptions,
  type ReadStart,
} from './event-bus-client';
export { Producer, type ProducerOptions, type ProducerStats } from './producer';
export type { RetryOptions } from './retry';
