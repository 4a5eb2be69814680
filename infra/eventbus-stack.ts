import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { EventBus, type EventBusProps } from './eventbus';

/** Stack props plus the bus's own, passed through to `EventBus`. */
export type EventBusStackProps = StackProps & EventBusProps;

/** One event bus per stack; its outputs are what a client needs to reach it. */
export class EventBusStack extends Stack {
  public readonly bus: EventBus;

  constructor(scope: Construct, id: string, props: EventBusStackProps = {}) {
    super(scope, id, props);
    this.bus = new EventBus(this, 'Bus', {
      removalPolicy: props.removalPolicy,
      inlineThresholdBytes: props.inlineThresholdBytes,
      maxRetentionDays: props.maxRetentionDays,
      logRetentionDays: props.logRetentionDays,
      adminKeySecret: props.adminKeySecret,
      publishLimits: props.publishLimits,
    });
    // Stable output keys, for scripts reading `cdk deploy --outputs-file`; the construct itself outputs nothing,
    // so an app that holds several buses names their outputs itself.
    new CfnOutput(this, 'ApiUrl', { value: this.bus.url, description: 'Function URL of the event bus API' });
    new CfnOutput(this, 'AdminKeySecretArn', {
      value: this.bus.adminKeySecret.secretArn,
      description: 'Secrets Manager secret holding the admin bearer key',
    });
  }
}
