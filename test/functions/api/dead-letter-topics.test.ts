import { startTestApi, type TestApi } from '../../support/api';
import { uniqueTopic } from '../../support/aws';

/**
 * Dead-letter topics belong to their group (issue 21, point 3;
 * docs/adr/0014-dead-letter-topics-owned.md): nobody prepares `<group>.dlq`
 * for a group, publishes into it, or has a redrive deliver what the group
 * never dead-lettered.
 */
let api: TestApi;
let topic: string;
beforeAll(async () => {
  // Deliverers are not this test's concern: wake-ups go nowhere.
  api = await startTestApi(undefined, { waker: { wake: async () => {} } });
  topic = uniqueTopic('dlq-origin');
  await api.request('PUT', `/topics/${topic}`, { body: { partitions: 1, retentionHours: 24 } });
});
afterAll(() => api.close());

const subscription = () => ({ topic, target: { type: 'lambda', function: 'billing' } });

test('fails to create a topic whose name ends ".dlq" with 409 CONFLICT, creating nothing', async () => {
  const name = `${uniqueTopic('evil')}.dlq`;
  const res = await api.request('PUT', `/topics/${name}`, { body: { partitions: 1, retentionHours: 24 } });
  expect([res.status, res.body.error.code]).toEqual([409, 'CONFLICT']);
  expect(res.body.error.message).toContain('reserved for dead-letter topics');
  expect((await api.request('GET', `/topics/${name}`)).status).toBe(404);
});

test("a group's dead-letter topic is created with the group, as its own, and takes no published event", async () => {
  const group = uniqueTopic('owner');
  expect((await api.request('PUT', `/subscriptions/${group}`, { body: subscription() })).status).toBe(201);
  const listed = (await api.request('GET', '/topics')).body.topics as {
    name: string;
    deadLetterOf?: string;
  }[];
  expect(listed.find((t) => t.name === `${group}.dlq`)).toMatchObject({ deadLetterOf: group, partitions: 1 });
  const published = await api.request('POST', `/topics/${group}.dlq/events`, {
    body: { events: [{ value: { foreign: true } }] },
  });
  expect([published.status, published.body.error.code]).toEqual([403, 'FORBIDDEN']);
  const described = await api.request('GET', `/topics/${group}.dlq`);
  expect(described.body.partitions[0].endOffset).toBe(0);
  // Nothing there to redrive: the foreign event never got in.
  expect((await api.request('POST', `/subscriptions/${group}/redrive`)).body).toEqual({ deadLetters: 0 });
});

test('fails to create a group whose dead-letter topic exists but is not its own, with 409 naming it', async () => {
  // A topic prepared before names ending ".dlq" were reserved, holding a foreign event.
  const group = uniqueTopic('evil');
  await api.bus.topics.create({ name: `${group}.dlq`, partitions: 1, retentionHours: 24 });
  await api.bus.log.append(`${group}.dlq`, 0, 24, [
    { timestamp: Date.now(), key: null, value: Buffer.from('{"foreign":true}'), json: true, headers: {} },
  ]);
  const res = await api.request('PUT', `/subscriptions/${group}`, { body: subscription() });
  expect([res.status, res.body.error.code]).toEqual([409, 'CONFLICT']);
  expect(res.body.error.message).toContain(`"${group}.dlq"`);
  expect((await api.request('GET', `/subscriptions/${group}`)).status).toBe(404);
});

test('a group deleted and created again keeps its own dead-letter topic', async () => {
  const group = uniqueTopic('again');
  expect((await api.request('PUT', `/subscriptions/${group}`, { body: subscription() })).status).toBe(201);
  expect((await api.request('DELETE', `/subscriptions/${group}`)).status).toBe(204);
  expect((await api.request('PUT', `/subscriptions/${group}`, { body: subscription() })).status).toBe(201);
});
