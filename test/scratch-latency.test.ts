import { randomUUID } from 'node:crypto';
import { startTestApi } from './support/api';
import { uniqueTopic } from './support/aws';
import { DELIVERY_TEST_ENV, startDelivery, startWebhookReceiver } from './support/delivery';

test('latency breakdown', async () => {
  const PREFIX = `lat-${randomUUID().slice(0, 6)}`;
  const harness = startDelivery((c) => c.startsWith(PREFIX), { sweepEveryMs: 1000 });
  const calls: string[] = [];
  harness.core.clients.dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      const t = Date.now();
      try {
        return await next(args);
      } finally {
        calls.push(`${context.commandName} ${Date.now() - t}`);
      }
    },
    { step: 'initialize', name: 'time' },
  );
  const api = await startTestApi(undefined, {
    env: { ...process.env, ...DELIVERY_TEST_ENV },
    waker: harness.waker,
  });
  const receiver = await startWebhookReceiver();
  const topic = uniqueTopic();
  await api.request('PUT', `/topics/${topic}`, { body: { partitions: 1, retentionHours: 24 } });
  const g = `${PREFIX}-g`;
  await api.request('PUT', `/subscriptions/${g}`, {
    body: { topic, target: { type: 'webhook', url: receiver.url } },
  });
  await new Promise((r) => setTimeout(r, 1000));
  const lat: number[] = [];
  for (let i = 0; i < 20; i++) {
    calls.length = 0;
    const t0 = Date.now();
    const res = await api.request('POST', `/topics/${topic}/events`, { body: { events: [{ value: i }] } });
    const off = res.body.results[0].offset;
    const t1 = Date.now();
    await receiver.until((r) => r.offsets().includes(off));
    const t2 = Date.now();
    lat.push(t2 - t0);
    if (i === 10) console.log('ack', t1 - t0, 'deliver', t2 - t1, calls.join(' | '));
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(lat.join(','));
  await harness.stop();
  await api.close();
  await receiver.close();
});
