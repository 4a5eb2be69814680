import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, type CfnElement, CfnParameter, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { EventBus, type EventBusProps } from '../../infra/eventbus';
import { EventBusStack } from '../../infra/eventbus-stack';
import { BUS_METRICS } from '../../shared/observability/metrics';

const cdkContext: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'),
).context;

/** An app that skips bundling: these tests look at the template, not the functions' code. */
function unbundledApp(): App {
  return new App({ context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } });
}

function consumer(stack: Stack, id: string): lambda.Function {
  const fn = new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });'),
  });
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason: 'A test consumer writes only its own logs.',
  });
  return fn;
}

function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

/** The declaration a custom resource carries, parsed back from its JSON (tokens stay as CloudFormation intrinsics). */
function declarations(template: Template, type: string): Record<string, unknown>[] {
  return Object.values(template.findResources(type)).map((resource) => {
    const text = resource.Properties.Declaration;
    return typeof text === 'string' ? JSON.parse(text) : text;
  });
}

describe('EventBus with declared topics and subscriptions', () => {
  let stack: Stack;
  let bus: EventBus;
  let billing: lambda.Function;
  let unrelated: lambda.Function;
  let template: Template;

  beforeAll(() => {
    // GIVEN a bus with a topic, a Lambda subscriber and a webhook subscriber
    stack = new Stack(unbundledApp(), 'Declared');
    bus = new EventBus(stack, 'Bus');
    const orders = bus.addTopic('orders', { partitions: 4, retention: Duration.days(3) });
    billing = consumer(stack, 'Billing');
    unrelated = consumer(stack, 'Unrelated');
    bus.subscribe('billing', { topic: orders, target: billing, batchSize: 50, maxAttempts: 3 });
    bus.subscribe('crm', { topic: 'orders', target: 'https://crm.example.com/hooks/orders' });
    // WHEN it is synthesized
    template = Template.fromStack(stack);
  });

  test('THEN the topic is a custom resource carrying its partitions and retention in hours', () => {
    expect(declarations(template, 'Custom::EventBusTopic')).toEqual([
      { kind: 'topic', topic: { name: 'orders', partitions: 4, retentionHours: 72 }, removeOnDelete: false },
    ]);
  });

  test('THEN each subscription is a custom resource carrying its API body, created after its topic', () => {
    const subscriptions = template.findResources('Custom::EventBusSubscription');
    expect(Object.keys(subscriptions)).toHaveLength(2);
    const topicId = Object.keys(template.findResources('Custom::EventBusTopic'))[0];
    for (const resource of Object.values(subscriptions)) expect(resource.DependsOn).toContain(topicId);
    const json = JSON.stringify(Object.values(subscriptions).map((r) => r.Properties.Declaration));
    // The Lambda target is the function's ARN, resolved at deploy time.
    expect(json).toContain(logicalId(billing));
    expect(json).toContain('\\"batchSize\\":50');
    expect(json).toContain('https://crm.example.com/hooks/orders');
  });

  test('THEN the deliverer may invoke exactly the subscribed function, not another', () => {
    const policies = JSON.stringify(
      template.findResources('AWS::IAM::Policy', {
        Properties: {
          Roles: Match.arrayWith([{ Ref: logicalId(bus.delivererFunction.role as iam.Role) }]),
        },
      }),
    );
    expect(policies).toContain(logicalId(billing));
    expect(policies).not.toContain(logicalId(unrelated));
  });

  test('THEN the webhook gets a generated signing secret the registrar may read, and only the registrar', () => {
    const secrets = template.findResources('AWS::SecretsManager::Secret');
    const signing = Object.entries(secrets).filter(([, r]) =>
      String(r.Properties.Description).includes('consumer group crm'),
    );
    expect(signing).toHaveLength(1);
    const [secretId] = signing[0];
    template.hasResourceProperties('Custom::EventBusSubscription', { SigningSecretArn: { Ref: secretId } });
    const readers = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes(`"Ref":"${secretId}"`),
    );
    expect(readers).toHaveLength(1);
    expect(JSON.stringify(readers[0].Properties.Roles)).toContain('Registrar');
  });

  test('THEN the registrar function and the provider framework exist once for all declarations', () => {
    expect(
      Object.values(template.findResources('AWS::Lambda::Function')).filter((r) =>
        JSON.stringify(r.Properties.Environment ?? {}).includes('EVENTBUS_REGISTRY_TABLE'),
      ),
    ).toHaveLength(5);
    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Description: Match.stringLikeRegexp('onEvent') },
      1,
    );
  });

  test('THEN AwsSolutions (cdk-nag) finds nothing unacknowledged', () => {
    // GIVEN the same kind of stack, checked by cdk-nag's AwsSolutions pack
    const app = unbundledApp();
    const checked = new EventBusStack(app, 'Nag');
    const orders = checked.bus.addTopic('orders', { partitions: 2 });
    checked.bus.subscribe('billing', { topic: orders, target: consumer(checked, 'Billing') });
    checked.bus.subscribe('crm', { topic: orders, target: 'https://crm.example.com/hook' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // WHEN it is synthesized THEN no rule fails (a failure throws with the report)
    expect(() => app.synth()).not.toThrow();
  });
});

describe('EventBus monitoring', () => {
  const stack = new Stack(unbundledApp(), 'Monitored');
  const bus = new EventBus(stack, 'Bus', { monitoring: { maxLagAge: Duration.minutes(2) } });
  const template = Template.fromStack(stack);

  test('THEN an alarm fires when the oldest undelivered event is older than the lag age given', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: BUS_METRICS.oldestEventAgeMs,
      Namespace: bus.metricsNamespace,
      Threshold: 120_000,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  test('THEN alarms watch dead letters, set-aside stream batches, and each function for errors and throttles', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: BUS_METRICS.deadLetters,
      Threshold: 0,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(bus.dispatchFailures), 'QueueName'] } },
      ],
    });
    for (const fn of [bus.apiFunction, bus.dispatcherFunction, bus.delivererFunction, bus.sweeperFunction]) {
      for (const metricName of ['Errors', 'Throttles']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: metricName,
          Namespace: 'AWS/Lambda',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(fn) } }],
        });
      }
    }
  });

  test('THEN a dashboard shows the bus, and every function emits metrics into the bus namespace', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_METRICS_NAMESPACE: bus.metricsNamespace }) },
    });
  });

  test('THEN monitoring can be turned off', () => {
    const quiet = new Stack(unbundledApp(), 'Quiet');
    new EventBus(quiet, 'Bus', { monitoring: { enabled: false } });
    const t = Template.fromStack(quiet);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });
});

describe('EventBus hardening options', () => {
  test('THEN delivery is traced, the API only when its caller is (X-Ray bills each trace), and the deliverer retries a failed wake-up twice within an hour', () => {
    const stack = new Stack(unbundledApp(), 'Hardened');
    const bus = new EventBus(stack, 'Bus', { apiReservedConcurrency: 50, deliveryReservedConcurrency: 20 });
    const template = Template.fromStack(stack);
    const resources = template.toJSON().Resources;
    const tracingOf = (fn: IConstruct) => resources[logicalId(fn)].Properties.TracingConfig;
    expect(tracingOf(bus.apiFunction)).toEqual({ Mode: 'PassThrough' });
    for (const fn of [bus.dispatcherFunction, bus.delivererFunction, bus.sweeperFunction])
      expect(tracingOf(fn)).toEqual({ Mode: 'Active' });
    // Set, it applies to every function.
    const all = new Stack(unbundledApp(), 'Traced');
    const traced = new EventBus(all, 'Bus', { tracing: lambda.Tracing.ACTIVE });
    expect(
      Template.fromStack(all).toJSON().Resources[logicalId(traced.apiFunction)].Properties.TracingConfig,
    ).toEqual({
      Mode: 'Active',
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(bus.delivererFunction) },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 3600,
    });
    expect(
      template.toJSON().Resources[logicalId(bus.apiFunction)].Properties.ReservedConcurrentExecutions,
    ).toBe(50);
    expect(
      template.toJSON().Resources[logicalId(bus.delivererFunction)].Properties.ReservedConcurrentExecutions,
    ).toBe(20);
  });

  test('THEN the dispatcher runs at once on each batch of commits, or gathers them for the chosen window', () => {
    const windowOf = (props: EventBusProps) => {
      const stack = new Stack(
        unbundledApp(),
        `Window${props.dispatchBatchingWindow?.toSeconds() ?? 'Default'}`,
      );
      new EventBus(stack, 'Bus', props);
      const [mapping] = Object.values(
        Template.fromStack(stack).findResources('AWS::Lambda::EventSourceMapping'),
      );
      return (mapping as { Properties: { MaximumBatchingWindowInSeconds?: number } }).Properties
        .MaximumBatchingWindowInSeconds;
    };
    expect(windowOf({})).toBe(0);
    expect(windowOf({ dispatchBatchingWindow: Duration.seconds(2) })).toBe(2);
  });

  test("fails with a dispatch batching window above Lambda's 300 seconds", () => {
    const stack = new Stack(unbundledApp(), 'TooLong');
    expect(() => new EventBus(stack, 'Bus', { dispatchBatchingWindow: Duration.minutes(6) })).toThrow(
      /dispatchBatchingWindow must be at most 300 seconds, got 360/,
    );
  });

  test('THEN with AWS_IAM a producer granted publish may invoke the URL, and its role is registered with its topic pattern', () => {
    const stack = new Stack(unbundledApp(), 'Iam');
    const bus = new EventBus(stack, 'Bus', { urlAuthType: lambda.FunctionUrlAuthType.AWS_IAM });
    const producer = consumer(stack, 'Checkout');
    bus.grantPublish(producer, 'orders*');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' });
    const policies = JSON.stringify(
      template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: logicalId(producer.role as iam.Role) }] },
      }),
    );
    expect(policies).toContain('lambda:InvokeFunctionUrl');
    expect(policies).toContain(logicalId(bus.apiFunction));
    const grant = JSON.stringify(template.findResources('Custom::EventBusIam-grant'));
    expect(grant).toContain('orders*');
    expect(grant).toContain(logicalId(producer.role as iam.Role));
  });
});

describe('EventBus declarations validation', () => {
  const busIn = (props: EventBusProps = {}) =>
    new EventBus(new Stack(unbundledApp(), 'Validation'), 'Bus', props);

  test.each([0, -1, 257, 1.5])('fails when a topic has %p partitions', (partitions) => {
    expect(() => busIn().addTopic('orders', { partitions })).toThrow(
      /partitions must be an integer from 1 to 256/,
    );
  });

  test('fails when a topic keeps events under 24 hours or beyond the bus maximum', () => {
    expect(() => busIn().addTopic('orders', { partitions: 1, retention: Duration.hours(23) })).toThrow(
      /retention in hours must be an integer from 24 to 720/,
    );
    expect(() =>
      busIn({ maxRetentionDays: 7 }).addTopic('orders', { partitions: 1, retention: Duration.days(8) }),
    ).toThrow(/from 24 to 168/);
  });

  test('fails when a topic name is invalid or declared twice', () => {
    expect(() => busIn().addTopic('orders/eu', { partitions: 1 })).toThrow(
      /topic name "orders\/eu" is invalid/,
    );
    const bus = busIn();
    bus.addTopic('orders', { partitions: 1 });
    expect(() => bus.addTopic('orders', { partitions: 2 })).toThrow(/declared twice/);
  });

  test('fails when a subscription reads a topic not declared on the bus', () => {
    const bus = busIn();
    expect(() => bus.subscribe('billing', { topic: 'orders', target: 'https://example.com/hook' })).toThrow(
      /topic "orders" is not declared on this bus/,
    );
  });

  test('fails when a webhook is not HTTPS', () => {
    const bus = busIn();
    bus.addTopic('orders', { partitions: 1 });
    expect(() => bus.subscribe('crm', { topic: 'orders', target: 'http://example.com/hook' })).toThrow(
      /must be an HTTPS URL/,
    );
    expect(() => bus.subscribe('crm', { topic: 'orders', target: 'not a url' })).toThrow(/is not a URL/);
  });

  test('fails when subscription options are out of range', () => {
    const bus = busIn();
    const topic = bus.addTopic('orders', { partitions: 1 });
    const target = 'https://example.com/hook';
    expect(() => bus.subscribe('a', { topic, target, batchSize: 0 })).toThrow(
      /batchSize must be an integer from 1 to 1000/,
    );
    expect(() => bus.subscribe('b', { topic, target, maxAttempts: 101 })).toThrow(/maxAttempts/);
    expect(() => bus.subscribe('c', { topic, target, timeout: Duration.minutes(6) })).toThrow(
      /timeout in seconds/,
    );
  });

  test('fails when grantPublish is used on a bus whose URL takes bearer keys', () => {
    const bus = busIn();
    expect(() =>
      bus.grantPublish(new iam.Role(Stack.of(bus), 'R', { assumedBy: new iam.AccountRootPrincipal() })),
    ).toThrow(/grantPublish needs urlAuthType: AWS_IAM/);
  });

  test('GIVEN a token for a count WHEN the bus is built THEN it is left for the deployment to resolve', () => {
    const stack = new Stack(unbundledApp(), 'Tokens');
    const concurrency = new CfnParameter(stack, 'Concurrency', { type: 'Number' });
    expect(
      () => new EventBus(stack, 'Bus', { apiReservedConcurrency: concurrency.valueAsNumber }),
    ).not.toThrow();
  });
});

describe('EventBus with declared routes and schemas', () => {
  const ORDER_SCHEMA = {
    type: 'object',
    properties: { total: { type: 'number' } },
    required: ['total'],
  };
  let bus: EventBus;
  let template: Template;

  beforeAll(() => {
    // GIVEN a topic with a schema, and a filtered, transformed, re-keyed route from it into another topic
    const stack = new Stack(unbundledApp(), 'Routed');
    bus = new EventBus(stack, 'Bus');
    const orders = bus.addTopic('orders', {
      partitions: 2,
      schema: ORDER_SCHEMA,
      compatibility: 'FULL',
    });
    const big = bus.addTopic('big-orders', { partitions: 1 });
    bus.subscribe('big-route', {
      topic: orders,
      target: big,
      targetKey: 'value.customer',
      filter: { value: { total: [{ numeric: ['>', 100] }] } },
      transform: { jsonata: '{"total": value.total}' },
    });
    // WHEN it is synthesized
    template = Template.fromStack(stack);
  });

  test('THEN the topic declaration carries its schema and compatibility mode', () => {
    expect(declarations(template, 'Custom::EventBusTopic')).toContainEqual({
      kind: 'topic',
      topic: { name: 'orders', partitions: 2, retentionHours: 168 },
      schema: ORDER_SCHEMA,
      compatibility: 'FULL',
      removeOnDelete: false,
    });
  });

  test('THEN the route declaration carries its filter, transform and topic target with its key', () => {
    expect(declarations(template, 'Custom::EventBusSubscription')).toEqual([
      {
        kind: 'subscription',
        group: 'big-route',
        subscription: {
          topic: 'orders',
          target: { type: 'topic', topic: 'big-orders', key: 'value.customer' },
          filter: { value: { total: [{ numeric: ['>', 100] }] } },
          transform: { jsonata: '{"total": value.total}' },
        },
        removeOnDelete: false,
      },
    ]);
  });

  test('THEN the route is registered after both its topics, the target with its schema', () => {
    const topics = template.findResources('Custom::EventBusTopic');
    const [route] = Object.values(template.findResources('Custom::EventBusSubscription'));
    expect(Object.keys(topics)).toHaveLength(2);
    for (const id of Object.keys(topics)) expect(route.DependsOn).toContain(id);
  });

  test('THEN a route grants the deliverer nothing: it appends to the log as it already may', () => {
    const policies = JSON.stringify(
      template.findResources('AWS::IAM::Policy', {
        Properties: {
          Roles: Match.arrayWith([{ Ref: logicalId(bus.delivererFunction.role as iam.Role) }]),
        },
      }),
    );
    const plain = new Stack(unbundledApp(), 'Unrouted');
    const unrouted = new EventBus(plain, 'Bus');
    const baseline = JSON.stringify(
      Template.fromStack(plain).findResources('AWS::IAM::Policy', {
        Properties: {
          Roles: Match.arrayWith([{ Ref: logicalId(unrouted.delivererFunction.role as iam.Role) }]),
        },
      }),
    );
    expect(policies).toBe(baseline);
  });
});

describe('EventBus routing and schema validation at synthesis', () => {
  const busWithTopics = () => {
    const bus = new EventBus(new Stack(unbundledApp(), 'RoutingValidation'), 'Bus');
    const orders = bus.addTopic('orders', { partitions: 1 });
    const big = bus.addTopic('big-orders', { partitions: 1 });
    return { bus, orders, big };
  };

  test('fails when a filter is not a valid event pattern, saying the group and where', () => {
    const { bus, orders } = busWithTopics();
    expect(() =>
      bus.subscribe('billing', {
        topic: orders,
        target: 'https://example.com/hook',
        filter: { value: { total: [{ numeric: ['>'] }] } },
      }),
    ).toThrow(/^Subscription "billing": .*filter\/value\/total\/0/);
  });

  test('fails when a transform or a target key is not valid JSONata, saying the group and which', () => {
    const { bus, orders, big } = busWithTopics();
    expect(() =>
      bus.subscribe('billing', {
        topic: orders,
        target: 'https://example.com/hook',
        transform: { jsonata: '{"total": value.total' },
      }),
    ).toThrow(/^Subscription "billing": .*transform\.jsonata/);
    expect(() => bus.subscribe('route', { topic: orders, target: big, targetKey: 'value.(' })).toThrow(
      /^Subscription "route": .*target\.key/,
    );
  });

  test('fails when a target key is given for a target that is not a topic', () => {
    const { bus, orders } = busWithTopics();
    expect(() =>
      bus.subscribe('billing', { topic: orders, target: 'https://example.com/hook', targetKey: 'key' }),
    ).toThrow(/Subscription "billing": targetKey is for topic targets only/);
  });

  test('fails when routes among the declared topics form a circle, naming it', () => {
    const { bus, orders, big } = busWithTopics();
    const audit = bus.addTopic('audit', { partitions: 1 });
    bus.subscribe('to-big', { topic: orders, target: big });
    bus.subscribe('to-audit', { topic: big, target: audit });
    expect(() => bus.subscribe('back', { topic: audit, target: orders })).toThrow(
      /Subscription "back": .*in a circle: audit → orders → big-orders → audit/,
    );
    expect(() => bus.subscribe('self', { topic: orders, target: orders })).toThrow(
      /Subscription "self": .*in a circle: orders → orders/,
    );
  });

  test('fails when a route goes into a dead-letter topic, or a topic of another bus', () => {
    const { bus, orders } = busWithTopics();
    const deadLetters = { name: 'billing.dlq', partitions: 1, retentionHours: 168 };
    expect(() => bus.subscribe('route', { topic: orders, target: deadLetters })).toThrow(
      /Subscription "route": target topic "billing.dlq" is a dead-letter topic/,
    );
    expect(() => bus.addTopic('billing.dlq', { partitions: 1 })).toThrow(
      /Topic "billing.dlq": names ending ".dlq" are the bus's dead-letter topics/,
    );
    const other = busWithTopics().big;
    expect(() => bus.subscribe('route', { topic: orders, target: other })).toThrow(
      /target topic "big-orders" is not declared on this bus/,
    );
  });

  test('fails when a topic target is delivered at most once', () => {
    const { bus, orders, big } = busWithTopics();
    expect(() => bus.subscribe('route', { topic: orders, target: big, delivery: 'at-most-once' })).toThrow(
      /Subscription "route": A topic target delivers exactly once/,
    );
  });

  test('fails when a schema is not valid JSON Schema, or names a remote $ref, saying the topic', () => {
    const bus = new EventBus(new Stack(unbundledApp(), 'SchemaValidation'), 'Bus');
    expect(() =>
      bus.addTopic('orders', {
        partitions: 1,
        schema: { type: 'object', properties: { total: { type: 7 } } },
      }),
    ).toThrow(/^Topic "orders": schema is not valid JSON Schema \(draft 2020-12\)/);
    expect(() =>
      bus.addTopic('orders', { partitions: 1, schema: { $ref: 'https://example.com/order.json' } }),
    ).toThrow(/^Topic "orders": schema\/\$ref: "https:\/\/example.com\/order.json" is remote/);
  });

  test('fails when a compatibility mode is not one of the seven, or comes without a schema', () => {
    const bus = new EventBus(new Stack(unbundledApp(), 'ModeValidation'), 'Bus');
    expect(() =>
      bus.addTopic('orders', {
        partitions: 1,
        schema: { type: 'object' },
        compatibility: 'SIDEWAYS' as 'NONE',
      }),
    ).toThrow(/Topic "orders": compatibility must be one of BACKWARD, .*NONE, got "SIDEWAYS"/);
    expect(() => bus.addTopic('orders', { partitions: 1, compatibility: 'FULL' })).toThrow(
      /compatibility is set with a schema/,
    );
  });
});
