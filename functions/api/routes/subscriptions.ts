import { aclGrants } from '../../../shared/auth/acl';
import { SubscriptionBody, subscriptionView } from '../../../shared/delivery/subscription';
import { defineRoute } from '../contract/route';
import {
  CreatedSubscription,
  GroupPath,
  RedriveAnswer,
  ResetAnswer,
  ResetBody,
  Subscription,
  SubscriptionDescription,
  SubscriptionList,
} from '../contract/schemas';
import { json, noContent } from '../http';

const READ_ON_TOPIC = "and `read` on the subscription's topic";

/**
 * PUT /subscriptions/{group} — 201 created (with a webhook's signing
 * `secret`, shown only then), 200 when the same subscription exists, 409
 * when a different one does. Needs `admin` on the group's name and `read` on
 * its topic. Each partition's cursor starts at the end (`latest`) or at the
 * oldest retained event (`earliest`).
 */
export const putSubscription = defineRoute({
  method: 'PUT',
  path: '/subscriptions/{group}',
  operationId: 'putSubscription',
  tag: 'subscriptions',
  summary: 'Create a subscription (consumer group)',
  description:
    'Creates the group; the same subscription again is 200 (without the secret), a different one 409 CONFLICT. ' +
    "Each partition's cursor starts at the end (`latest`) or at the oldest retained event (`earliest`). " +
    'Dead letters land in topic `<group>.dlq`.',
  access: {
    permission: 'admin',
    resource: { param: 'group' },
    also: "and `read` on the body's topic (and `publish` on a topic target's topic)",
  },
  params: GroupPath,
  body: { schema: SubscriptionBody },
  responses: {
    201: {
      description: "Created; a webhook's answer holds its signing `secret`, shown only here.",
      schema: CreatedSubscription,
      headers: { 'cache-control': 'no-store' },
    },
    200: { description: 'The same subscription exists already.', schema: Subscription },
    409: { description: 'CONFLICT: the group exists with a different subscription.' },
    400: {
      description:
        'INVALID_REQUEST, or ROUTE_CYCLE: a topic target that would route events back to the topic they came from.',
    },
  },
  handle: async ({ params, body, principal }, { authorizer, subscriptions }) => {
    const checked = subscriptions.parse(params.group, body);
    authorizer.authorize(principal, 'read', checked.subscription.topic);
    const { target } = checked.subscription;
    // Routing into a topic publishes to it: a key that could not publish there may not route there.
    if (target.type === 'topic') authorizer.authorize(principal, 'publish', target.topic);
    const { created, subscription } = await subscriptions.subscribe(checked);
    if (!created) return json(200, subscriptionView(subscription));
    return json(
      201,
      { ...subscriptionView(subscription), ...(subscription.secret ? { secret: subscription.secret } : {}) },
      { 'cache-control': 'no-store' },
    );
  },
});

/** GET /subscriptions — the subscriptions on topics this key may read (all of them for the admin key). */
export const listSubscriptions = defineRoute({
  method: 'GET',
  path: '/subscriptions',
  operationId: 'listSubscriptions',
  tag: 'subscriptions',
  summary: 'List subscriptions',
  description: 'The subscriptions on topics this key may read; all of them for the admin key.',
  access: { permission: 'read', resource: 'some-topic' },
  responses: { 200: { description: 'The subscriptions.', schema: SubscriptionList } },
  handle: async ({ principal }, { subscriptions }) => {
    const readable = (await subscriptions.list())
      .filter((subscription) => principal.admin || aclGrants(principal.acl, 'read', subscription.topic))
      .map(subscriptionView);
    return json(200, { subscriptions: readable });
  },
});

/**
 * GET /subscriptions/{group} — the configuration and, per partition, where
 * the group stands: committed and end offsets, lag, the failing event's
 * attempts and last error, and the age of the oldest undelivered event (the
 * figure to alarm on, like Kinesis's iterator age).
 */
export const describeSubscription = defineRoute({
  method: 'GET',
  path: '/subscriptions/{group}',
  operationId: 'describeSubscription',
  tag: 'subscriptions',
  summary: 'Describe a subscription and its lag',
  description:
    "The configuration and, per partition, where the group stands: committed and end offsets, lag, the failing event's " +
    'attempts and last error, and the age of the oldest undelivered event.',
  access: { permission: 'read', resource: 'some-topic', also: "`read` on the subscription's topic" },
  params: GroupPath,
  responses: { 200: { description: 'The subscription.', schema: SubscriptionDescription } },
  handle: async ({ params, principal }, { authorizer, subscriptions }) => {
    const { subscription, partitions } = await subscriptions.describe(params.group, (topic) =>
      authorizer.authorize(principal, 'read', topic),
    );
    return json(200, { ...subscriptionView(subscription), partitions });
  },
});

/** DELETE /subscriptions/{group} — 204; the group receives nothing more, and its offsets are forgotten. */
export const deleteSubscription = defineRoute({
  method: 'DELETE',
  path: '/subscriptions/{group}',
  operationId: 'deleteSubscription',
  tag: 'subscriptions',
  summary: 'Delete a subscription',
  description: 'The group receives nothing more, and its offsets are forgotten.',
  access: { permission: 'admin', resource: { param: 'group' }, also: READ_ON_TOPIC },
  params: GroupPath,
  responses: { 204: { description: 'Deleted.' } },
  handle: async ({ params, principal }, { authorizer, subscriptions }) => {
    await subscriptions.delete(params.group, (topic) => authorizer.authorize(principal, 'read', topic));
    return noContent();
  },
});

/**
 * POST /subscriptions/{group}/offsets `{"to": "earliest" | "latest" |
 * {"timestamp"} | {"offsets": {"<partition>": offset}}}` — replay or skip.
 * A batch in flight finishes, but its commit loses to the reset: the new
 * position takes effect at the next batch.
 */
export const resetOffsets = defineRoute({
  method: 'POST',
  path: '/subscriptions/{group}/offsets',
  operationId: 'resetOffsets',
  tag: 'subscriptions',
  summary: 'Reset offsets (replay or skip)',
  description:
    'Moves the committed offsets: to the oldest retained event, the end, the first event at a time, or given offsets ' +
    '(below the oldest retained one means from it). A batch in flight finishes; its commit loses to the reset.',
  access: { permission: 'admin', resource: { param: 'group' }, also: READ_ON_TOPIC },
  params: GroupPath,
  body: { schema: ResetBody },
  responses: { 200: { description: 'The new committed offsets.', schema: ResetAnswer } },
  handle: async ({ params, body, principal }, { authorizer, subscriptions }) => {
    const targets = await subscriptions.resetOffsets(params.group, body.to, (topic) =>
      authorizer.authorize(principal, 'read', topic),
    );
    return json(200, {
      partitions: [...targets].map(([partition, committedOffset]) => ({ partition, committedOffset })),
    });
  },
});

/**
 * POST /subscriptions/{group}/redrive — delivers the group's dead letters to
 * its target again: those in `<group>.dlq` up to its end now, each once per
 * redrive. A dead letter that fails again goes back to the end of the
 * dead-letter topic, after this redrive's bound.
 */
export const redriveDeadLetters = defineRoute({
  method: 'POST',
  path: '/subscriptions/{group}/redrive',
  operationId: 'redriveDeadLetters',
  tag: 'subscriptions',
  summary: 'Redrive dead letters',
  description:
    "Delivers the group's dead letters (topic `<group>.dlq`, up to its end now) to its target again, each once per " +
    'redrive; one that fails again goes back to the end of the dead-letter topic.',
  access: { permission: 'admin', resource: { param: 'group' }, also: READ_ON_TOPIC },
  params: GroupPath,
  responses: {
    202: { description: 'Accepted: how many dead letters will be delivered again.', schema: RedriveAnswer },
  },
  handle: async ({ params, principal }, { authorizer, subscriptions }) => {
    const deadLetters = await subscriptions.redrive(params.group, (topic) =>
      authorizer.authorize(principal, 'read', topic),
    );
    return json(202, { deadLetters });
  },
});
