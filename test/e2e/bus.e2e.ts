import { randomUUID } from 'node:crypto';

/**
 * End to end against a running bus: `EVENTBUS_E2E_URL` (the Function URL on AWS or LocalStack, or
 * `npm start`'s URL), `EVENTBUS_E2E_KEY` (the admin key) and `EVENTBUS_E2E_PROBE` (the name or ARN of
 * the probe function the bus may deliver to, test/e2e/probe.ts). Without a URL every test is skipped,
 * and says so.
 */
const url = process.env.EVENTBUS_E2E_URL;
const key = process.env.EVENTBUS_E2E_KEY ?? '';
const probe = process.env.EVENTBUS_E2E_PROBE ?? 'probe';
const run = randomUUID().slice(0, 8);
const topic = `e2e-${run}`;
const group = `e2e-probe-${run}`;

if (!url) {
  process.stdout.write(
    'e2e: skipped — set EVENTBUS_E2E_URL (and EVENTBUS_E2E_KEY, EVENTBUS_E2E_PROBE) to run it\n',
  );
}
const e2e = url ? describe : describe.skip;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(new URL(path.replace(/^\//, ''), url?.endsWith('/') ? url : `${url}/`), {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function until<T>(
  what: string,
  probeOnce: () => Promise<T | undefined>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probeOnce();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

e2e('a deployed bus, end to end', () => {
  test('the bus is healthy', async () => {
    expect((await call('GET', '/health')).status).toBe(200);
  });

  test('a topic is created, and a probe subscribed from the start', async () => {
    expect((await call('PUT', `/topics/${topic}`, { partitions: 2, retentionHours: 24 })).status).toBe(201);
    const subscribed = await call('PUT', `/subscriptions/${group}`, {
      topic,
      target: { type: 'lambda', function: probe },
      maxAttempts: 2,
      startFrom: 'earliest',
    });
    expect(subscribed.status).toBe(201);
  });

  test('published events are delivered: the group catches up, lag 0 on every partition', async () => {
    const published = await call('POST', `/topics/${topic}/events`, {
      events: [
        { key: 'a', value: { n: 1 } },
        { key: 'b', value: { n: 2 } },
        { key: 'a', value: { n: 3, poison: true } },
        { key: 'a', value: { n: 4 } },
      ],
    });
    expect(published.status).toBe(200);
    const ends = new Map<number, number>();
    for (const result of published.body.results) ends.set(result.partition, result.offset + 1);
    const described = await until('the probe group to catch up', async () => {
      const { body } = await call('GET', `/subscriptions/${group}`);
      const caughtUp = body.partitions.every(
        (p: { partition: number; committedOffset: number }) =>
          p.committedOffset >= (ends.get(p.partition) ?? 0),
      );
      return caughtUp ? body : undefined;
    });
    for (const partition of described.partitions) expect(partition.lag).toBe(0);
  });

  test('the poison event is dead-lettered with its payload and origin, and the events after it flowed', async () => {
    const dlq = await until('the dead letter', async () => {
      const read = await call('GET', `/topics/${group}.dlq/partitions/0/events?offset=0`);
      return read.status === 200 && read.body.events.length > 0 ? read.body.events : undefined;
    });
    expect(dlq).toHaveLength(1);
    expect(dlq[0].value).toEqual({ n: 3, poison: true });
    expect(dlq[0].headers['eventbus-dlq-topic']).toBe(topic);
    expect(dlq[0].headers['eventbus-dlq-error']).toContain('poison');
  });
});
