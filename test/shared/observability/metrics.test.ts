import { Metrics } from '@aws-lambda-powertools/metrics';
import type { DeliveryBatch } from '../../../protocol';
import { createBusCore } from '../../../shared/bus';
import type { OutgoingBatch } from '../../../shared/delivery/targets/target';
import { BUS_METRICS, BusMetrics } from '../../../shared/observability/metrics';
import { record, uniqueTopic } from '../../support/aws';
import { createGroup, DELIVERY_TEST_ENV, testDeliverer } from '../../support/delivery';

// What CloudWatch would receive: the embedded-metric-format lines Powertools writes to stdout.
interface EmfLine {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [name: string]: unknown;
}

/** Takes the EMF lines off stdout (kept for the assertions, not printed into the test run); other output passes. */
function captureEmf(): { lines: EmfLine[]; restore(): void } {
  const lines: EmfLine[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const other = String(chunk)
      .split('\n')
      .filter((text) => {
        if (!text.includes('"_aws"')) return true;
        lines.push(JSON.parse(text));
        return false;
      })
      .join('\n');
    if (other.trim() === '') return true;
    return write(other, ...(rest as []));
  }) as typeof process.stdout.write;
  return {
    lines,
    restore: () => {
      process.stdout.write = write;
    },
  };
}

const valuesOf = (lines: EmfLine[], name: string, group?: string) =>
  lines
    .filter((line) => line._aws.CloudWatchMetrics[0].Metrics.some((m) => m.Name === name))
    .filter((line) => (group === undefined ? !('group' in line) : line.group === group))
    .flatMap((line) => [line[name]].flat() as number[]);

describe('the bus metrics a delivery run emits', () => {
  test('GIVEN 10 events, one poison WHEN a run delivers THEN delivered, dead letters, lag and latency are in EMF, per group too', async () => {
    // GIVEN a topic with 10 events, a group reading them, and metrics switched on
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const metrics = new BusMetrics(new Metrics({ serviceName: 'eventbus', namespace: 'EventBusTest' }));
    const core = createBusCore({
      env: { ...process.env, ...DELIVERY_TEST_ENV },
      waker: { wake: async () => {} },
    });
    const topic = uniqueTopic();
    await core.topics.create({ name: topic, partitions: 1, retentionHours: 24 });
    await core.log.append(
      topic,
      0,
      24,
      Array.from({ length: 10 }, (_, n) => record({ n })),
    );
    const group = await createGroup(core, topic, { prefix: 'metrics', maxAttempts: 1 });
    const target = {
      async deliver(outgoing: OutgoingBatch) {
        const batch = JSON.parse(outgoing.body) as DeliveryBatch;
        const poison = batch.events.find((event) => (event.value as { n: number }).n === 4);
        return poison ? { status: 'failed' as const, error: 'poison' } : { status: 'delivered' as const };
      },
    };
    const deliverer = testDeliverer(core, target, { observer: metrics });
    const emf = captureEmf();
    try {
      // WHEN one run delivers the group-partition and the function flushes its metrics
      const run = await deliverer.deliver({ cursor: group, partition: 0 }, 20_000);
      metrics.flush();
      expect(run).toMatchObject({ result: 'caught-up', delivered: 9 });
    } finally {
      emf.restore();
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    }
    // THEN the figures the alarms and dashboard read are there, in the bus's namespace
    const { lines } = emf;
    expect(lines.every((line) => line._aws.CloudWatchMetrics[0].Namespace === 'EventBusTest')).toBe(true);
    expect(valuesOf(lines, BUS_METRICS.deliveredEvents).reduce((a, b) => a + b, 0)).toBe(9);
    expect(valuesOf(lines, BUS_METRICS.deliveredEvents, group).reduce((a, b) => a + b, 0)).toBe(9);
    expect(valuesOf(lines, BUS_METRICS.deadLetters, group)).toEqual([1]);
    expect(valuesOf(lines, BUS_METRICS.consumerLag, group)).toEqual([0]);
    expect(valuesOf(lines, BUS_METRICS.oldestEventAgeMs, group)).toEqual([0]);
    const latencies = valuesOf(lines, BUS_METRICS.deliveryLatencyMs);
    expect(latencies.length).toBeGreaterThan(0);
    for (const latency of latencies) expect(latency).toBeGreaterThanOrEqual(0);
  });

  test('GIVEN many short API invocations WHEN each flushes if due THEN one line a second carries all their counts', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const metrics = new BusMetrics(new Metrics({ serviceName: 'eventbus', namespace: 'EventBusTest' }));
    const emf = captureEmf();
    try {
      const t0 = 1_000_000;
      for (const [at, events] of [
        [t0, 1],
        [t0 + 10, 2],
        [t0 + 20, 3],
        [t0 + 1_500, 4],
      ]) {
        metrics.published(events);
        metrics.flushIfDue(1_000, at);
      }
    } finally {
      emf.restore();
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    }
    // The first invocation flushes; the next two wait; the one 1.5 s later flushes theirs with its own.
    expect(emf.lines).toHaveLength(2);
    expect(valuesOf(emf.lines, BUS_METRICS.publishedEvents).reduce((a, b) => a + b, 0)).toBe(10);
  });
});
