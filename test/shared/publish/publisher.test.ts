import { Publisher } from '../../../shared/publish/publisher';
import type { TopicConfig } from '../../../shared/registry/topic';
import { newLog, partitionItems, uniqueTopic } from '../../support/aws';

const keyless = (value: unknown) => ({
  key: null,
  value: Buffer.from(JSON.stringify(value)),
  json: true,
  headers: {},
});

describe('keyless events (sticky partitioner)', () => {
  test('requests that arrive together share one partition and few segments', async () => {
    const topic: TopicConfig = { name: uniqueTopic('sticky'), partitions: 4, retentionHours: 24 };
    const publisher = new Publisher(newLog());

    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => publisher.publish(topic, [keyless(i)])),
    );

    const partitions = new Set(outcomes.map((o) => (o.results[0] as { partition: number }).partition));
    expect(partitions.size).toBe(1);
    const [partition] = partitions;
    const segments = (await partitionItems(topic.name, partition)).filter((item) => item.sk >= 0);
    expect(segments.length).toBeLessThanOrEqual(2);
    expect(segments.reduce((sum, s) => sum + s.count, 0)).toBe(20);
  });

  test('successive requests rotate over every partition', async () => {
    const topic: TopicConfig = { name: uniqueTopic('rotate'), partitions: 4, retentionHours: 24 };
    const publisher = new Publisher(newLog());
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      const { results } = await publisher.publish(topic, [keyless(i), keyless(i)]);
      // One request's keyless events stay together.
      expect(results[0]).toMatchObject({ partition: (results[1] as { partition: number }).partition });
      seen.push((results[0] as { partition: number }).partition);
    }
    expect(new Set(seen).size).toBe(4);
    expect(seen.slice(4)).toEqual(seen.slice(0, 4));
  });
});
