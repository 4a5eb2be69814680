import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createBusCore, createDelivererRole, type DelivererRole } from '../../shared/bus';
import { SETTINGS } from '../../shared/config';
import type { CursorRef } from '../../shared/delivery/cursor-store';
import type { DeliveryRun } from '../../shared/delivery/deliverer';
import { createLogger } from '../../shared/observability/logger';
import { limitsFromEnv } from '../../shared/publish/limits';

const logger = createLogger();

/** The part of Lambda's context a run needs: how long it may take. */
export interface DelivererContext {
  getRemainingTimeInMillis(): number;
}

/** A run is never planned longer than this: the work of one invocation stays bounded, and is handed on. */
const MAX_RUN_MS = 60_000;

/**
 * Delivers one cursor (`{"cursor", "partition"}`), woken asynchronously by
 * the dispatcher, the API or a deliverer that ran out of time (docs/adr/0005).
 * A throw makes Lambda retry the wake-up, which is safe: the lease keeps one
 * holder and commits are conditional.
 */
export function createDelivererHandler(delivery: Pick<DelivererRole, 'deliverer'>) {
  return async (event: CursorRef, context: DelivererContext): Promise<DeliveryRun> => {
    if (typeof event?.cursor !== 'string' || !Number.isInteger(event.partition)) {
      throw new Error('The deliverer takes {"cursor": group, "partition": n}.');
    }
    const budget = Math.min(MAX_RUN_MS, context.getRemainingTimeInMillis());
    // Every line of this run names the group-partition it delivers: the thread from dispatch to delivery.
    logger.setCorrelationId(`${event.cursor}/${event.partition}`);
    const run = await delivery.deliverer.deliver(
      { cursor: event.cursor, partition: event.partition },
      budget,
    );
    logger.info('delivery run', { cursor: event.cursor, partition: event.partition, ...run });
    return run;
  };
}

let deliver: ((event: CursorRef, context: DelivererContext) => Promise<DeliveryRun>) | undefined;

/** The Lambda entry point: wires the deliverer role on the first run; each run's metrics are flushed as it ends. */
export const handler = (event: CursorRef, context: DelivererContext): Promise<DeliveryRun> => {
  if (!deliver) {
    // A deliverer hands work on to its own function: on AWS, the one Lambda says it is.
    const env = { ...process.env };
    env[SETTINGS.delivererFunction.env] ??= env.AWS_LAMBDA_FUNCTION_NAME;
    const role = createDelivererRole(createBusCore({ env }), {
      onError: (message, details) => logger.warn(message, details),
      limits: limitsFromEnv(env),
    });
    deliver = middy(createDelivererHandler(role)).use(logMetrics(role.core.metrics.metrics)) as never;
  }
  return (deliver as NonNullable<typeof deliver>)(event, context);
};
