/**
 * The bus's protocol: what the server, the client and the consumer agree on
 * — the API's bodies, its error codes, Kafka's partitioner, the delivery
 * batch and the dead-letter headers. Dependency-free (it runs in browsers,
 * Node and Lambda); the packages bundle it (docs/adr/0013).
 */
export type * from './api';
export { DEAD_LETTER_HEADERS } from './dead-letter-headers';
export type { DeliveryBatch, DeliveryResponse } from './delivery-batch';
export { describeTarget } from './describe-target';
export { ERROR_CODES, type ErrorCode, isErrorCode } from './error-codes';
export type { EventView } from './event-view';
export type { JsonValue } from './json-value';
export { murmur2, partitionForKey, toPositive } from './partitioner';
