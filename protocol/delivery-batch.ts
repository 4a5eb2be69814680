import type { EventView } from './event-view';

/**
 * What a subscription's target receives (docs/api.md, Delivery to a target): a
 * Lambda function as its invocation payload, a webhook as a signed POST body.
 * Events are one partition's, in offset order.
 */
export interface DeliveryBatch {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** Values as the target decodes them: JSON as published, a string for text, else base64. */
  readonly events: readonly EventView<unknown>[];
}

/**
 * A target's optional answer (Lambda's SQS/Kinesis contract): the offsets
 * whose processing failed, as strings. Everything before the lowest failed
 * offset is committed; it and the events after it are delivered again.
 */
export interface DeliveryResponse {
  /**
   * `error` is this bus's addition to Lambda's shape: why the event failed, kept as the group's
   * `lastError` and in a dead letter's headers.
   */
  readonly batchItemFailures?: readonly { readonly itemIdentifier: string; readonly error?: string }[];
}
