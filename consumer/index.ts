/**
 * For subscriber authors: a middy middleware that turns a delivery batch into
 * per-event processing, reports failed events back to the bus, and can skip
 * events already processed. Import it as `eventbus/consumer`.
 */

export type { DeliveryBatch, DeliveryResponse } from '../shared/delivery/delivery-batch';
export {
  type ConsumedEvent,
  type ConsumerOptions,
  createConsumer,
  eventbusConsumer,
  eventIdOf,
} from './consumer';
