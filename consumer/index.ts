/**
 * For subscriber authors: a middy middleware that turns a delivery batch into
 * per-event processing, reports failed events back to the bus, and can skip
 * events already processed. Import it from `@eventbus/consumer`.
 */

export { DEAD_LETTER_HEADERS, type DeliveryBatch, type DeliveryResponse } from '../protocol';
export {
  type ConsumedEvent,
  type ConsumerOptions,
  createConsumer,
  eventbusConsumer,
  eventIdOf,
} from './consumer';
