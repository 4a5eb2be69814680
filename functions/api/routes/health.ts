import { type AnyRoute, defineRoute, type RouteContext } from '../contract/route';
import { HealthAnswer } from '../contract/schemas';
import { type HttpResult, json, withCause } from '../http';

/**
 * GET /health — no key needed; 200 when the bus can take events: its table
 * and its bucket both answer. Otherwise 503 with `Retry-After`, naming the
 * dependency that is down.
 */
async function answerHealth(health: RouteContext['health']): Promise<HttpResult> {
  const { dependencies, failure } = await health();
  if (dependencies.dynamodb === 'ok' && dependencies.s3 === 'ok')
    return json(200, { status: 'ok', dependencies });
  const down = Object.entries(dependencies)
    .filter(([, state]) => state === 'down')
    .map(([name]) => name);
  return withCause(
    json(
      503,
      {
        status: 'down',
        dependencies,
        error: { code: 'UNAVAILABLE', message: `The bus cannot reach ${down.join(' and ')}; retry shortly.` },
      },
      { 'retry-after': '5' },
    ),
    failure,
  );
}

const HEALTH_RESPONSES = {
  200: { description: 'The bus can take events.', schema: HealthAnswer },
  503: {
    description: 'A dependency is down (named in `dependencies`); retry after `Retry-After`.',
    schema: HealthAnswer,
    headers: { 'retry-after': 'Seconds to wait before asking again.' },
  },
};

/** GET /health (and HEAD, for load balancers): no key needed. */
export const healthRoutes: AnyRoute[] = (['GET', 'HEAD'] as const).map((method) =>
  defineRoute({
    method,
    path: '/health',
    operationId: method === 'GET' ? 'health' : 'healthHead',
    tag: 'health',
    summary: 'Whether the bus can take events',
    description: 'Needs no key. 200 when the table and the bucket both answer, else 503 naming what is down.',
    access: 'public',
    responses: HEALTH_RESPONSES,
    handle: async (_input, { health }) => answerHealth(health),
  }),
);
