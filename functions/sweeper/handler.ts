import { Logger } from '@aws-lambda-powertools/logger';
import { createAwsClients } from '../../shared/aws/clients';
import { configFromEnv } from '../../shared/config';
import { sweepOrphanSegments } from '../../shared/log/orphan-sweeper';
import { SegmentStore } from '../../shared/log/segment-store';

const logger = new Logger({ serviceName: 'eventbus' });

/** Scheduled housekeeping: removes segment objects whose commit never happened. */
export function createSweeperHandler(env: NodeJS.ProcessEnv = process.env) {
  const config = configFromEnv(env);
  const { dynamo, s3 } = createAwsClients(env);
  const segments = new SegmentStore(s3, config.bucket);
  return async (): Promise<{ scanned: number; removed: number }> => {
    const result = await sweepOrphanSegments({
      dynamo,
      s3,
      segments,
      table: config.logTable,
      bucket: config.bucket,
    });
    if (result.removed.length > 0) logger.info('removed orphaned segments', { keys: result.removed });
    return { scanned: result.scanned, removed: result.removed.length };
  };
}

let sweep: ReturnType<typeof createSweeperHandler> | undefined;

export const handler = (): Promise<{ scanned: number; removed: number }> => {
  sweep ??= createSweeperHandler();
  return sweep();
};
