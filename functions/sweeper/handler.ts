import { createBusCore, createSweeperRole, type SweeperRole } from '../../shared/bus';
import { sweepOrphanSegments } from '../../shared/log/orphan-sweeper';
import { partitionKey } from '../../shared/log/partition-key';
import { createLogger } from '../../shared/observability/logger';

const logger = createLogger();

export interface SweepResult {
  /** Partitions whose floor was behind their head and was raised. */
  readonly floorsRaised: number;
  readonly scanned: number;
  readonly removed: number;
}

/**
 * Scheduled housekeeping: brings every partition's floor up to its head
 * (the part the stream left for it, docs/adr/0002), and removes segment
 * objects whose commit never happened.
 */
export function createSweeperHandler(role: SweeperRole = createSweeperRole(createBusCore())) {
  const { core, floors, segments } = role;
  const { config, topics } = core;
  const { dynamo, s3 } = core.clients;
  return async (): Promise<SweepResult> => {
    const pks = (await topics.list()).flatMap((topic) =>
      Array.from({ length: topic.partitions }, (_, partition) => partitionKey(topic.name, partition)),
    );
    // Floors keep offsets from being reused: a failure here fails the run, so the schedule retries it.
    const floorsRaised = await floors.catchUp(pks);
    // Orphans are garbage nobody reads: a run that cannot finish removing them leaves the rest to the next.
    try {
      const result = await sweepOrphanSegments({
        dynamo,
        s3,
        segments,
        table: config.logTable,
        bucket: config.bucket,
      });
      if (result.removed.length > 0) logger.info('removed orphaned segments', { keys: result.removed });
      return { floorsRaised, scanned: result.scanned, removed: result.removed.length };
    } catch (error) {
      logger.warn('orphan sweep left unfinished; the next run continues', { error });
      return { floorsRaised, scanned: 0, removed: 0 };
    }
  };
}

let sweep: ReturnType<typeof createSweeperHandler> | undefined;

export const handler = (): Promise<SweepResult> => {
  sweep ??= createSweeperHandler();
  return sweep();
};
