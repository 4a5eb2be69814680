import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { AwsClients } from '../aws/clients';
import type { BusConfig } from '../config';

/** How long a dependency may take to answer a health check. */
const CHECK_TIMEOUT_MS = 2_000;

export type DependencyState = 'ok' | 'down';

/** Whether the bus can take events: its table and its bucket both answer. */
export interface HealthReport {
  readonly dependencies: { readonly dynamodb: DependencyState; readonly s3: DependencyState };
  /** What the first failing check threw, for the log. */
  readonly failure?: unknown;
}

/**
 * Asks the registry table and the segment bucket, each within two seconds.
 *
 * @example
 * const { dependencies } = await checkHealth(bus);
 */
export async function checkHealth({
  clients,
  config,
}: {
  clients: Pick<AwsClients, 'dynamo' | 's3'>;
  config: Pick<BusConfig, 'registryTable' | 'bucket'>;
}): Promise<HealthReport> {
  const failures: unknown[] = [];
  const check = async (probe: (signal: AbortSignal) => Promise<unknown>): Promise<DependencyState> => {
    try {
      await probe(AbortSignal.timeout(CHECK_TIMEOUT_MS));
      return 'ok';
    } catch (error) {
      failures.push(error);
      return 'down';
    }
  };
  const [dynamodb, s3] = await Promise.all([
    check((abortSignal) =>
      clients.dynamo.send(
        new GetCommand({ TableName: config.registryTable, Key: { pk: 'health', sk: 'health' } }),
        { abortSignal },
      ),
    ),
    check((abortSignal) =>
      clients.s3.send(new HeadBucketCommand({ Bucket: config.bucket }), { abortSignal }),
    ),
  ]);
  return { dependencies: { dynamodb, s3 }, failure: failures[0] };
}
