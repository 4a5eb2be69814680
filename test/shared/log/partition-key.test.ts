import { appendedPartitions } from '../../../shared/delivery/dispatcher';
import { parsePartitionKey, partitionKey } from '../../../shared/log/partition-key';

describe('parsePartitionKey', () => {
  test.each([
    ['orders', 0],
    ['orders.eu-1', 255],
    ['a', 7],
  ])('reads back the topic and partition partitionKey(%p, %p) wrote', (topic, partition) => {
    expect(parsePartitionKey(partitionKey(topic, partition))).toEqual({ topic, partition });
  });

  test.each(['orders', '#1', 'orders#', 'orders#-1', 'orders#x'])(
    'fails on %p, which no partition has',
    (pk) => {
      expect(() => parsePartitionKey(pk)).toThrow(/is not a log partition key/);
    },
  );
});

describe('appendedPartitions', () => {
  test('gives each partition the end of its newest segment, and skips meta items', () => {
    expect(
      appendedPartitions([
        { pk: 'orders#0', sk: 0, last: 4 },
        { pk: 'orders#0', sk: 5, last: 9 },
        { pk: 'orders#1', sk: -1 },
        { pk: 'billing.dlq#0', sk: 3, last: 3 },
      ]),
    ).toEqual([
      { topic: 'orders', partition: 0, end: 10 },
      { topic: 'billing.dlq', partition: 0, end: 4 },
    ]);
  });
});
