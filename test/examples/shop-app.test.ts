import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { ShopStack } from '../../examples/app';
import { call, type RunningBus, startBus, stopBus } from '../support/local-bus';

// The sample app: a producer and a consumer declared beside the bus, synthesized, then run in local mode.

function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

describe('the sample shop app', () => {
  test('GIVEN the app WHEN synthesized THEN billing is subscribed to orders and only it may be invoked by the bus', () => {
    const stack = new ShopStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Shop');
    const template = Template.fromStack(stack);
    const declarations = JSON.stringify(template.findResources('Custom::EventBusSubscription'));
    expect(declarations).toContain(logicalId(stack.billing));
    expect(declarations).toContain('\\"topic\\":\\"orders\\"');
    const delivererPolicies = JSON.stringify(
      template.findResources('AWS::IAM::Policy', {
        Properties: {
          Roles: Match.arrayWith([{ Ref: logicalId(stack.bus.delivererFunction.role as IConstruct) }]),
        },
      }),
    );
    expect(delivererPolicies).toContain(logicalId(stack.billing));
    expect(delivererPolicies).not.toContain(logicalId(stack.checkout));
    // The producer learns the bus's URL from the stack.
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ EVENTBUS_URL: Match.anyValue() }) },
    });
  });

  describe('in local mode', () => {
    let bus: RunningBus;
    let dataDir: string;
    let ledger: string;

    beforeAll(async () => {
      dataDir = mkdtempSync(path.join(tmpdir(), 'eventbus-shop-'));
      ledger = path.join(dataDir, 'ledger.jsonl');
      const port = await freePort();
      const adminKey = `shop-admin-key-${Date.now()}`;
      bus = await startBus(dataDir, {
        EVENTBUS_PORT: String(port),
        EVENTBUS_ADMIN_KEY: adminKey,
        EVENTBUS_LOCAL_FUNCTIONS:
          'checkout=examples/producer/checkout.ts#handler,billing=examples/consumer/billing.ts#handler',
        // The producer's settings: the local bus, and (for brevity here) the admin key.
        EVENTBUS_URL: `http://127.0.0.1:${port}/`,
        EVENTBUS_KEY: adminKey,
        BILLING_LEDGER: ledger,
      });
    }, 120_000);
    afterAll(async () => {
      if (bus) await stopBus(bus, 'SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('GIVEN orders and billing WHEN checkout is invoked through the Lambda API THEN billing bills the order', async () => {
      // The topic and group the stack declares; local mode creates them through the API.
      expect((await call(bus, 'PUT', '/topics/orders', { partitions: 4, retentionHours: 168 })).status).toBe(
        201,
      );
      const subscribed = await call(bus, 'PUT', '/subscriptions/billing', {
        topic: 'orders',
        target: { type: 'lambda', function: 'billing' },
        batchSize: 50,
      });
      expect(subscribed.status).toBe(201);
      const endpoint = /Lambda Invoke API on (\S+)/.exec(bus.output)?.[1] as string;
      const lambda = new LambdaClient({
        endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      const invoked = await lambda.send(
        new InvokeCommand({
          FunctionName: 'checkout',
          Payload: Buffer.from(JSON.stringify({ orderId: 'shop-1', total: 42 })),
        }),
      );
      expect(invoked.FunctionError).toBeUndefined();
      const { offset } = JSON.parse(Buffer.from(invoked.Payload as Uint8Array).toString());
      expect(offset).toBe(0);
      const deadline = Date.now() + 30_000;
      while (!readLedger(ledger).some((bill) => bill.orderId === 'shop-1') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(readLedger(ledger)).toEqual([
        expect.objectContaining({ orderId: 'shop-1', total: 42, offset: 0 }),
      ]);
    });
  });
});

function readLedger(file: string): { orderId: string; total: number }[] {
  try {
    return readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  } catch {
    return [];
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
