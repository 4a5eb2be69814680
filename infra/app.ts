import * as path from 'node:path';
import { App, CfnOutput, Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { EventBusStack } from './eventbus-stack';

const app = new App();
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
const stack = new EventBusStack(app, process.env.EVENTBUS_STACK_NAME ?? 'EventBus', {
  // Environment-agnostic unless the CLI knows the account and region.
  env: account || region ? { account, region } : undefined,
  description: 'Serverless event bus: Kafka-style topics on Lambda, DynamoDB and S3',
});

// `-c eventbus:e2eProbe=true` (npm run deploy:local) adds the end-to-end suite's subscriber (test/e2e/probe.ts).
if (
  app.node.tryGetContext('eventbus:e2eProbe') === 'true' ||
  app.node.tryGetContext('eventbus:e2eProbe') === true
) {
  const probe = new NodejsFunction(stack, 'E2eProbe', {
    entry: path.join(__dirname, '..', 'test', 'e2e', 'probe.ts'),
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    timeout: Duration.seconds(30),
    bundling: { externalModules: ['@aws-sdk/*', '@smithy/*'] },
  });
  stack.bus.grantDeliveryTo(probe);
  new CfnOutput(stack, 'E2eProbeFunction', {
    value: probe.functionName,
    description: 'EVENTBUS_E2E_PROBE for npm run test:e2e',
  });
}
