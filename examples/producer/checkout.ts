/**
 * A sample producer: a checkout function that publishes each order it takes
 * to the `orders` topic, keyed by order id so one order's events keep their
 * order. It answers only once the bus has committed the event. Locally:
 *
 *   EVENTBUS_LOCAL_FUNCTIONS=checkout=examples/producer/checkout.ts#handler npm start
 *
 * with `EVENTBUS_URL` and `EVENTBUS_KEY` (a key with `publish` on `orders`) in
 * its environment. Deployed (examples/app.ts), the key is read from Secrets
 * Manager (`EVENTBUS_KEY_SECRET_ARN`).
 */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';

interface Checkout {
  readonly orderId: string;
  readonly total: number;
}

const secrets = new SecretsProvider();

async function publishKey(): Promise<string> {
  if (process.env.EVENTBUS_KEY) return process.env.EVENTBUS_KEY;
  const arn = process.env.EVENTBUS_KEY_SECRET_ARN;
  if (!arn) throw new Error('Set EVENTBUS_KEY or EVENTBUS_KEY_SECRET_ARN.');
  return String(await secrets.get(arn, { maxAge: 300 }));
}

export async function handler(order: Checkout): Promise<{ partition: number; offset: number }> {
  const url = new URL('topics/orders/events', process.env.EVENTBUS_URL);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await publishKey()}`,
      'content-type': 'application/json',
      // A retry of this invocation publishes the order once.
      'idempotency-key': `checkout-${order.orderId}`,
    },
    body: JSON.stringify({ events: [{ key: order.orderId, value: order }] }),
  });
  const body = (await response.json()) as {
    results?: { partition: number; offset: number }[];
    error?: unknown;
  };
  if (!response.ok || !body.results)
    throw new Error(`publish failed (${response.status}): ${JSON.stringify(body)}`);
  return body.results[0];
}
