import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { DEAD_LETTER_HEADERS } from '../../protocol';
import { call, type RunningBus, startBus, stopBus } from '../support/local-bus';

// The README's path, end to end: `npm start` with a user's function declared, subscribed as a Lambda target.
let bus: RunningBus;
let dataDir: string;
let ledger: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'eventbus-fn-'));
  ledger = path.join(dataDir, 'ledger.jsonl');
  bus = await startBus(dataDir, {
    EVENTBUS_LOCAL_FUNCTIONS: 'billing=examples/consumer/billing.ts#handler',
    EVENTBUS_RETRY_BASE_MS: '100',
    BILLING_LEDGER: ledger,
  });
}, 120_000);
afterAll(async () => {
  await stopBus(bus, 'SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

function billed(): { orderId: string; total: number }[] {
  try {
    return readFileSync(ledger, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  } catch {
    return [];
  }
}

async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('local functions', () => {
  test('npm start lists the declared function and delivers to it; a poison order is dead-lettered and the rest billed', async () => {
    expect(bus.output).toContain('local functions: billing');
    expect((await call(bus, 'PUT', '/topics/orders', { partitions: 1, retentionHours: 24 })).status).toBe(
      201,
    );
    const subscribed = await call(bus, 'PUT', '/subscriptions/billing', {
      topic: 'orders',
      target: { type: 'lambda', function: 'billing' },
      maxAttempts: 3,
    });
    expect(subscribed.status).toBe(201);
    const published = await call(bus, 'POST', '/topics/orders/events', {
      events: [
        { value: { orderId: 'o-1', total: 10 } },
        { value: { orderId: 'o-2', total: -1 } },
        { value: { orderId: 'o-3', total: 30 } },
      ],
    });
    expect(published.status).toBe(200);

    await until(() => billed().some((bill) => bill.orderId === 'o-3'));
    expect(billed().map((bill) => bill.orderId)).toEqual(['o-1', 'o-3']);
    const dlq = await call(bus, 'GET', '/topics/billing.dlq/partitions/0/events?offset=0');
    expect(dlq.body.events.map((e: { value: unknown }) => e.value)).toEqual([{ orderId: 'o-2', total: -1 }]);
    expect(dlq.body.events[0].headers[DEAD_LETTER_HEADERS.error]).toContain('cannot bill order o-2');
    const described = await call(bus, 'GET', '/subscriptions/billing');
    expect(described.body.partitions[0]).toMatchObject({ committedOffset: 3, lag: 0 });
  });

  test('the Invoke API answers the SDK as Lambda does: results, function errors, unknown functions', async () => {
    const endpoint = /Lambda Invoke API on (\S+)/.exec(bus.output)?.[1] as string;
    const lambda = new LambdaClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const invoke = async (payload: unknown, name = 'billing') => {
      const answer = await lambda.send(
        new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(payload)) }),
      );
      return {
        error: answer.FunctionError,
        body: JSON.parse(Buffer.from(answer.Payload ?? []).toString() || 'null'),
      };
    };
    const batch = (total: number) => ({
      group: 'probe',
      topic: 'orders',
      partition: 0,
      events: [
        {
          offset: 7,
          timestamp: new Date().toISOString(),
          key: null,
          value: { orderId: 'p', total },
          headers: {},
        },
      ],
    });
    expect(await invoke(batch(1))).toEqual({ error: undefined, body: { batchItemFailures: [] } });
    expect(await invoke(batch(-5))).toEqual({
      error: undefined,
      body: { batchItemFailures: [{ itemIdentifier: '7', error: 'Error: cannot bill order p: total -5' }] },
    });
    const notABatch = await invoke({ hello: 'world' });
    expect(notABatch.error).toBe('Unhandled');
    expect(notABatch.body.errorMessage).toContain('not a delivery batch');
    await expect(invoke({}, 'nope')).rejects.toBeInstanceOf(ResourceNotFoundException);
    // An ARN reaches the function by its name.
    expect((await invoke(batch(2), 'arn:aws:lambda:us-east-1:000000000000:function:billing')).body).toEqual({
      batchItemFailures: [],
    });
  });
});
