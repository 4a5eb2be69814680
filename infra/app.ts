import { App } from 'aws-cdk-lib';
import { EventBusStack } from './eventbus-stack';

const app = new App();
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
new EventBusStack(app, process.env.EVENTBUS_STACK_NAME ?? 'EventBus', {
  // Environment-agnostic unless the CLI knows the account and region.
  env: account || region ? { account, region } : undefined,
  description: 'Serverless event bus: Kafka-style topics on Lambda, DynamoDB and S3',
});
