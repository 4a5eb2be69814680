import { aclGrants } from '../../../shared/auth/acl';
import type { Bus } from '../../../shared/bus';
import { InvalidRequestError } from '../../../shared/errors';
import { assertValidName } from '../../../shared/names';
import { type HttpEvent, type HttpResult, json, jsonBody, pathParam } from '../http';
import { authenticate } from './auth';

/** PUT /topics/{topic} — 201 created, 200 when the same configuration exists, 409 when it differs. */
export async function putTopic(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  const name = pathParam(event, 'topic');
  assertValidName('topic', name);
  await authenticate(bus, event, 'admin', name);
  const body = jsonBody(event);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError(
      'The body must be an object: {"partitions": 1..256, "retentionHours": >=24}.',
    );
  }
  const unknown = Object.keys(body).filter((k) => k !== 'partitions' && k !== 'retentionHours');
  if (unknown.length > 0)
    throw new InvalidRequestError(`Unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')}.`);
  const { partitions, retentionHours } = body as { partitions?: unknown; retentionHours?: unknown };
  const topic = { name, partitions: partitions as number, retentionHours: retentionHours as number };
  const created = await bus.topics.create(topic);
  return json(created ? 201 : 200, topic);
}

/** GET /topics — the topics this key may read (all of them for the admin key). */
export async function listTopics(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  const principal = await authenticate(bus, event, 'read');
  const topics = (await bus.topics.list()).filter(
    (topic) => principal.admin || aclGrants(principal.acl, 'read', topic.name),
  );
  return json(200, { topics });
}

/** GET /topics/{topic} — the configuration and each partition's retained range. */
export async function describeTopic(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  const name = pathParam(event, 'topic');
  assertValidName('topic', name);
  await authenticate(bus, event, 'read', name);
  const topic = await bus.topics.get(name);
  const partitions = await mapLimited(range(topic.partitions), 16, async (partition) => ({
    partition,
    ...(await bus.log.offsets(name, partition)),
  }));
  return json(200, { name, partitions, retentionHours: topic.retentionHours });
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Maps with at most `limit` calls in flight, keeping order. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
