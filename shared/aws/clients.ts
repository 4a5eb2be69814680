import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface AwsClients {
  readonly dynamo: DynamoDBDocumentClient;
  readonly s3: S3Client;
  /** Invokes Lambda targets and wakes deliverers; `AWS_ENDPOINT_URL_LAMBDA` points it at the local runtime. */
  readonly lambda: LambdaClient;
  /** Arms lease wakes (docs/adr/0019); unused in local mode, whose delay queue is in-process. */
  readonly sqs: SQSClient;
}

/**
 * SDK clients for the bus. Endpoints come from the SDK's own environment
 * variables (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`,
 * `AWS_ENDPOINT_URL`), so the same code talks to AWS, LocalStack or the local
 * emulators. A non-AWS S3 endpoint gets path-style addressing, which
 * S3-compatible servers need. Whoever measures the bus's requests adds its SDK
 * middleware to the clients made here (local mode's `clients` option).
 */
export function createAwsClients(env: NodeJS.ProcessEnv = process.env): AwsClients {
  const s3Endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const s3 = new S3Client({ forcePathStyle: s3Endpoint !== undefined });
  // Read from `env` rather than left to the SDK: local mode sets the endpoint of its own Invoke API there.
  const lambdaEndpoint = env.AWS_ENDPOINT_URL_LAMBDA ?? env.AWS_ENDPOINT_URL;
  const lambda = new LambdaClient(lambdaEndpoint ? { endpoint: lambdaEndpoint } : {});
  return { dynamo, s3, lambda, sqs: new SQSClient({}) };
}
