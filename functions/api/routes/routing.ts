import { RoutingTestBody } from '../../../shared/services/routing';
import { defineRoute } from '../contract/route';
import { RoutingTestAnswer } from '../contract/schemas';
import { json } from '../http';

/**
 * POST /routing/test — what a subscription's filter, transform and topic
 * target key would make of sample events, or of a topic's retained events,
 * without delivering or writing anything. Reading a topic needs `read` on it.
 */
export const testRouting = defineRoute({
  method: 'POST',
  path: '/routing/test',
  operationId: 'testRouting',
  tag: 'subscriptions',
  summary: 'Try a filter, transform and key (nothing is delivered)',
  description:
    "Runs a subscription's routing as delivery runs it — the `filter`, then the `transform` and a topic target's " +
    '`key` — over sample `events`, or over up to `limit` (at most 1000) events retained in `topic` from `from`, and ' +
    'answers per event whether it matched and the value and key the target would get, or the error. Nothing is ' +
    'delivered, appended or committed. Invalid routing is refused with the messages of `PUT /subscriptions`.',
  access: {
    permission: 'read',
    resource: 'some-topic',
    also: "and `read` on the body's `topic` when its retained events are read",
  },
  body: { schema: RoutingTestBody },
  responses: {
    200: { description: 'What routing does with each event, and the counts.', schema: RoutingTestAnswer },
  },
  handle: async ({ body, principal }, { authorizer, routing }) => {
    const test = routing.parse(body);
    return json(200, await routing.test(test, (topic) => authorizer.authorize(principal, 'read', topic)));
  },
});
