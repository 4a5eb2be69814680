/**
 * `eventbus/client`: a typed client for the bus's HTTP API and a batching
 * Producer, on `fetch` alone (Node 20+, Lambda).
 *
 * @example
 * import { EventBusClient, Producer } from 'eventbus/client';
 */
export * from './errors';
export {
  type CallOptions,
  EventBusClient,
  type EventBusClientOptions,
  type PublishOptions,
  type ReadOptions,
  type ReadStart,
} from './event-bus-client';
export { Producer, type ProducerOptions, type ProducerStats } from './producer';
export type { RetryOptions } from './retry';
export type * from './types';
