import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { type ConsumedEvent, createConsumer } from '../../consumer';
import type { DeliveryBatch } from '../../protocol';

const context = { getRemainingTimeInMillis: () => 30_000, awsRequestId: 'r' } as unknown as Context;
let tableName: string;

beforeAll(async () => {
  // GIVEN a table for processed-event records, as a subscriber would create it (partition key `id`)
  tableName = `processed-${randomUUID().slice(0, 8)}`;
  await new DynamoDBClient({}).send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
});

function batch(
  offsets: number[],
  headers: (offset: number) => Record<string, string> = () => ({}),
): DeliveryBatch {
  return {
    group: `g-${tableName}`,
    topic: 'orders',
    partition: 2,
    events: offsets.map((offset) => ({
      offset,
      timestamp: new Date().toISOString(),
      key: null,
      value: { offset },
      headers: headers(offset),
    })),
  };
}

describe('the consumer middleware', () => {
  test('processes each event in order and answers no failures', async () => {
    const seen: ConsumedEvent[] = [];
    const handler = createConsumer((event) => {
      seen.push(event);
    });
    expect(await handler(batch([5, 6, 7]), context)).toEqual({ batchItemFailures: [] });
    expect(seen.map((e) => [e.offset, e.topic, e.partition])).toEqual([
      [5, 'orders', 2],
      [6, 'orders', 2],
      [7, 'orders', 2],
    ]);
  });

  test('reports the event whose processing threw, and by default processes nothing after it', async () => {
    const processed: number[] = [];
    const handler = createConsumer((event) => {
      if (event.offset === 11) throw new Error('declined');
      processed.push(event.offset);
    });
    expect(await handler(batch([10, 11, 12]), context)).toEqual({
      batchItemFailures: [{ itemIdentifier: '11', error: 'Error: declined' }],
    });
    expect(processed).toEqual([10]);
  });

  test('with afterFailure "continue", processes the rest and reports every failure', async () => {
    const processed: number[] = [];
    const handler = createConsumer(
      (event) => {
        if (event.offset % 2 === 1) throw new Error('odd');
        processed.push(event.offset);
      },
      { afterFailure: 'continue' },
    );
    expect(await handler(batch([1, 2, 3, 4]), context)).toEqual({
      batchItemFailures: [
        { itemIdentifier: '1', error: 'Error: odd' },
        { itemIdentifier: '3', error: 'Error: odd' },
      ],
    });
    expect(processed).toEqual([2, 4]);
  });

  test('with idempotency, a redelivered event is processed once, and a failed one is processed again', async () => {
    const calls: number[] = [];
    let failOn: number | undefined = 22;
    const handler = createConsumer(
      (event) => {
        calls.push(event.offset);
        if (event.offset === failOn) throw new Error('not yet');
      },
      { idempotency: { tableName } },
    );
    // First delivery: 20 and 21 succeed, 22 fails.
    expect(await handler(batch([20, 21, 22, 23]), context)).toEqual({
      batchItemFailures: [{ itemIdentifier: '22', error: 'Error: not yet' }],
    });
    // The bus delivers from 22 on; say it redelivers the whole batch (a crash before its commit).
    failOn = undefined;
    expect(await handler(batch([20, 21, 22, 23]), context)).toEqual({ batchItemFailures: [] });
    expect(calls).toEqual([20, 21, 22, 22, 23]);
    // And once more: nothing is processed again.
    await handler(batch([20, 21, 22, 23]), context);
    expect(calls).toEqual([20, 21, 22, 22, 23]);
  });

  test('a CloudEvent is known by its source and id, whatever offset it was delivered at', async () => {
    const calls: number[] = [];
    const handler = createConsumer((event) => void calls.push(event.offset), { idempotency: { tableName } });
    const ce = () => ({ ce_id: `order-${tableName}`, ce_source: '/shop' });
    await handler(batch([40], ce), context);
    // The producer published the same CloudEvent twice: it sits at another offset too.
    await handler(batch([41], ce), context);
    expect(calls).toEqual([40]);
  });
});
