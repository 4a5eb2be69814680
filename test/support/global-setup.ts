import { rm } from 'node:fs/promises';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { type LocalBackends, startLocalBackends } from '../../local/emulators';
import { provision, tableNames } from '../../local/provision';

/** What global-teardown.ts needs; jest runs setup and teardown in the same process. */
export interface TestBackends {
  readonly backends: LocalBackends;
  /** Removed by the teardown; undefined when nothing was started here. */
  readonly dataDir?: string;
}

declare global {
  var __eventbusTestBackends: TestBackends | undefined;
}

/** Prefix of the tables and bucket the tests use. */
export const TEST_PREFIX = 'test';

/**
 * Starts one DynamoDB Local and one s3rver for the whole run (or uses the endpoints already in
 * the environment, for example LocalStack), creates the bus's tables and bucket, and puts the
 * endpoints and names into `process.env`, which every test worker inherits.
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const dataDir = path.resolve(__dirname, '../../.test-data', `${Date.now()}-${process.pid}`);
  let backends: LocalBackends;
  try {
    backends = await startLocalBackends(process.env, dataDir);
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  globalThis.__eventbusTestBackends = {
    backends,
    dataDir: backends.started.dynamo || backends.started.s3 ? dataDir : undefined,
  };

  Object.assign(process.env, backends.env);
  const names = tableNames(TEST_PREFIX);
  Object.assign(process.env, names);

  // Clients from the environment just set, exactly as the code under test will see it.
  const dynamo = new DynamoDBClient({});
  const s3 = new S3Client({ forcePathStyle: true });
  try {
    await provision({ dynamo, s3 }, names);
  } catch (error) {
    await backends.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  } finally {
    dynamo.destroy();
    s3.destroy();
  }
  if (process.env.EVENTBUS_TEST_VERBOSE) {
    console.log(
      `\nBackends ready in ${Date.now() - started} ms: ${backends.dynamoEndpoint}, ${backends.s3Endpoint}`,
    );
  }
}
