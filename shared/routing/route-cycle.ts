import { BusError } from '../errors';

/** A route from one topic into another: a subscription with a topic target. */
export interface TopicRoute {
  readonly from: string;
  readonly to: string;
}

/** A topic target that would bring events back to where they came from. */
export class RouteCycleError extends BusError {
  constructor(readonly cycle: readonly string[]) {
    super(
      400,
      'ROUTE_CYCLE',
      `This topic target would route events in a circle: ${cycle.join(' → ')}. Route into a topic that does not lead back.`,
      { details: { cycle } },
    );
  }
}

/**
 * The circle `adding` would close among `routes`, as the topics along it
 * (first and last the same), or undefined when there is none: events routed
 * in a circle would be appended forever. One implementation for the API and
 * the construct's synthesis.
 *
 * @example
 * findRouteCycle([{ from: 'big', to: 'orders' }], { from: 'orders', to: 'big' }); // ['orders', 'big', 'orders']
 */
export function findRouteCycle(routes: readonly TopicRoute[], adding: TopicRoute): string[] | undefined {
  const next = new Map<string, string[]>();
  for (const { from, to } of routes) next.set(from, [...(next.get(from) ?? []), to]);
  // Breadth-first from the new route's target: reaching its source closes a circle.
  const cameFrom = new Map<string, string>([[adding.to, adding.from]]);
  const queue = [adding.to];
  while (queue.length > 0) {
    const topic = queue.shift() as string;
    if (topic === adding.from) {
      const cycle = [topic];
      for (let at = cameFrom.get(topic) as string; ; at = cameFrom.get(at) as string) {
        cycle.unshift(at);
        if (at === adding.from) return cycle;
      }
    }
    for (const to of next.get(topic) ?? []) {
      if (!cameFrom.has(to)) {
        cameFrom.set(to, topic);
        queue.push(to);
      }
    }
  }
  return undefined;
}
