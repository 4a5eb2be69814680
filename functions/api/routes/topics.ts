import { aclGrants } from '../../../shared/auth/acl';
import { Topic as TopicSchema, TopicSettings } from '../../../shared/registry/topic';
import { defineRoute } from '../contract/route';
import { TopicDescription, TopicList, TopicPath } from '../contract/schemas';
import { json } from '../http';

/** PUT /topics/{topic} — 201 created, 200 when the same configuration exists, 409 when it differs. */
export const putTopic = defineRoute({
  method: 'PUT',
  path: '/topics/{topic}',
  operationId: 'putTopic',
  tag: 'topics',
  summary: 'Create a topic',
  description:
    'Creates the topic; the same configuration again is 200, a different one 409 CONFLICT. A topic never changes once created.',
  access: { permission: 'admin', resource: { param: 'topic' } },
  params: TopicPath,
  body: { schema: TopicSettings },
  responses: {
    201: { description: 'Created.', schema: TopicSchema },
    200: { description: 'The same configuration exists already.', schema: TopicSchema },
    409: { description: 'CONFLICT: the topic exists with a different configuration.' },
  },
  handle: async ({ params, body }, { topics }) => {
    const topic = { name: params.topic, partitions: body.partitions, retentionHours: body.retentionHours };
    const created = await topics.create(topic);
    return json(created ? 201 : 200, topic);
  },
});

/** GET /topics — the topics this key may read (all of them for the admin key). */
export const listTopics = defineRoute({
  method: 'GET',
  path: '/topics',
  operationId: 'listTopics',
  tag: 'topics',
  summary: 'List topics',
  description: 'The topics this key may read; all of them for the admin key.',
  access: { permission: 'read', resource: 'some-topic' },
  responses: { 200: { description: 'The topics.', schema: TopicList } },
  handle: async ({ principal }, { topics }) => {
    const readable = (await topics.list()).filter(
      (topic) => principal.admin || aclGrants(principal.acl, 'read', topic.name),
    );
    return json(200, { topics: readable });
  },
});

/** GET /topics/{topic} — the configuration and each partition's retained range. */
export const describeTopic = defineRoute({
  method: 'GET',
  path: '/topics/{topic}',
  operationId: 'describeTopic',
  tag: 'topics',
  summary: 'Describe a topic',
  description:
    "The configuration and each partition's retained range; `endOffset` is the offset the next event will get.",
  access: { permission: 'read', resource: { param: 'topic' } },
  params: TopicPath,
  responses: { 200: { description: 'The topic.', schema: TopicDescription } },
  handle: async ({ params }, { topics }) => {
    const { topic, partitions } = await topics.describe(params.topic);
    return json(200, { name: topic.name, partitions, retentionHours: topic.retentionHours });
  },
});
