/**
 * A sample subscriber: bills each order published on `orders`. Run it
 * locally with the bus:
 *
 *   EVENTBUS_LOCAL_FUNCTIONS=billing=examples/consumer/billing.ts#handler npm start
 *
 * then subscribe it (`{"type": "lambda", "function": "billing"}`). Deployed,
 * the same module is a Lambda function the bus is granted to invoke.
 */
import { appendFileSync } from 'node:fs';
import { createConsumer } from '../../consumer';

interface Order {
  readonly orderId: string;
  readonly total: number;
}

/** Where bills go: a JSON line each (a stand-in for a payment service). */
const ledger = process.env.BILLING_LEDGER;

export const handler = createConsumer(
  (event) => {
    const order = event.value as Order;
    // An order the biller cannot take fails, is retried, and ends in the group's dead-letter topic.
    if (typeof order?.total !== 'number' || order.total < 0) {
      throw new Error(`cannot bill order ${order?.orderId}: total ${order?.total}`);
    }
    const line = JSON.stringify({
      orderId: order.orderId,
      total: order.total,
      offset: event.offset,
      id: event.id,
    });
    if (ledger) appendFileSync(ledger, `${line}\n`);
    else console.log(`billing: ${line}`);
  },
  // With a table for processed-event records, a redelivered order is billed once.
  process.env.BILLING_PROCESSED_TABLE
    ? { idempotency: { tableName: process.env.BILLING_PROCESSED_TABLE } }
    : {},
);
