/**
 * A team's own CDK app with the bus in it: the topic (with its schema) and its
 * consumer group declared next to the functions that produce and consume it,
 * and a route copying the large orders into a topic of their own.
 *
 *   npx cdk synth --app "npx tsx examples/app.ts"
 */
import * as path from 'node:path';
import { App, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { EventBus } from '../infra/eventbus';

export class ShopStack extends Stack {
  readonly bus: EventBus;
  readonly checkout: NodejsFunction;
  readonly billing: NodejsFunction;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.bus = new EventBus(this, 'Bus');
    // Every order published must match the schema; a later change must keep accepting the orders before it.
    const orders = this.bus.addTopic('orders', {
      partitions: 4,
      retention: Duration.days(7),
      schema: {
        type: 'object',
        properties: { orderId: { type: 'string' }, total: { type: 'number', minimum: 0 } },
        required: ['orderId', 'total'],
      },
      compatibility: 'BACKWARD',
    });
    // A route: orders over 1,000 appended (exactly once) to large-orders, for the fraud team to read.
    const largeOrders = this.bus.addTopic('large-orders', { partitions: 1, retention: Duration.days(30) });
    this.bus.subscribe('large-orders-route', {
      topic: orders,
      target: largeOrders,
      targetKey: 'value.orderId',
      filter: { value: { total: [{ numeric: ['>', 1000] }] } },
      transform: { jsonata: '{"orderId": value.orderId, "total": value.total, "at": timestamp}' },
    });

    const fn = (name: string, entry: string, environment: Record<string, string>) =>
      new NodejsFunction(this, name, {
        entry: path.join(__dirname, entry),
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        timeout: Duration.seconds(30),
        environment,
        bundling: { externalModules: ['@aws-sdk/*', '@smithy/*'] },
      });

    // The producer's API key (with "publish" on orders), created with POST /keys and stored here.
    const publishKey = new secretsmanager.Secret(this, 'CheckoutPublishKey', {
      description: 'API key the checkout function publishes orders with',
    });
    this.checkout = fn('Checkout', 'producer/checkout.ts', {
      EVENTBUS_URL: this.bus.url,
      EVENTBUS_KEY_SECRET_ARN: publishKey.secretArn,
    });
    publishKey.grantRead(this.checkout);

    this.billing = fn('Billing', 'consumer/billing.ts', {});
    this.bus.subscribe('billing', { topic: orders, target: this.billing, batchSize: 50, maxAttempts: 5 });
  }
}

if (require.main === module) {
  new ShopStack(new App(), 'Shop');
}
