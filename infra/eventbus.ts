import { existsSync } from 'node:fs';
import * as path from 'node:path';
import {
  type CfnElement,
  CustomResource,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import {
  MAX_INLINE_THRESHOLD_BYTES,
  SETTINGS,
  type SettingName,
  settingsEnvironment,
} from '../shared/config';
import { limitSettings, resolveLimits } from '../shared/publish/limits';
import type { Declaration } from '../shared/registry/declarations';
import type { TopicRoute } from '../shared/routing/route-cycle';
import {
  type AttributeType,
  accessTables,
  apiFunction,
  delivererFunction,
  deliverySweepSchedule,
  dispatcherFunction,
  dispatcherTrigger,
  type FunctionDefinition,
  groupsTable,
  type KeyDefinition,
  leaseWakeQueue,
  logTable,
  registrarFunction,
  registryTable,
  segmentBucket,
  sweeperFunction,
  sweeperSchedule,
  type TableDefinition,
  tablesOf,
} from '../shared/topology';
import { CONSOLE_ASSETS, consoleBundling } from './console-bundling';
import {
  type BusSubscription,
  type BusTopic,
  type SubscriptionOptions,
  subscriptionBody,
  type TopicOptions,
  topicDeclaration,
} from './declarations';
import { BusMonitoring, type MonitoringOptions } from './monitoring';

// The types of the construct's props and results, by name for the @eventbus/cdk package's users.
export type {
  BusSubscription,
  BusTopic,
  DeliveryGuarantee,
  JsonSchemaObject,
  SchemaCompatibility,
  SubscriptionOptions,
  TopicOptions,
} from './declarations';
export type { MonitoringOptions } from './monitoring';

/**
 * What one publish request may carry, each limit in its unit (written out here for the package's users;
 * `resolveLimits` holds it to the domain's `PublishLimits`).
 */
export interface PublishLimits {
  readonly maxEvents: number;
  readonly maxValueBytes: number;
  readonly maxRequestBytes: number;
  readonly maxKeyBytes: number;
  readonly maxHeaders: number;
  /** Sum of header names and values of one event, in bytes. */
  readonly maxHeaderBytes: number;
}

/** Retention has a floor of 24 h; rounded up to days that is 1, so the lifecycle can never be shorter. */
const MIN_RETENTION_DAYS = 2;

export interface EventBusProps {
  /**
   * What happens to the tables, the bucket, the generated admin key secret and the function log groups
   * when they leave the stack. With DESTROY the bucket is emptied before it is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Segments at or under this many bytes are stored inline in the log item; larger ones go to S3.
   * Must be an integer in 1..350000 (DynamoDB items are at most 400 KB).
   * @default 8192
   */
  readonly inlineThresholdBytes?: number;

  /**
   * The longest retention, in days, of any topic. Retention is enforced per topic by readers (through
   * `expiresAt`); the bucket-wide lifecycle rule deletes segment objects after this many days plus one.
   * Objects of a topic with a longer retention would be deleted early: raise this value to cover it.
   * Must be an integer of at least 2.
   * @default 30
   */
  readonly maxRetentionDays?: number;

  /**
   * How long the functions' CloudWatch logs are kept, in days: one of the values CloudWatch accepts
   * (`logs.RetentionDays`).
   * @default 30
   */
  readonly logRetentionDays?: number;

  /**
   * The secret holding the admin bearer key, which bootstraps topics and API keys. Its ARN reaches the
   * API as an environment variable, so import an existing one by complete ARN (`fromSecretCompleteArn`).
   * @default - a generated Secrets Manager secret (48 alphanumeric characters)
   */
  readonly adminKeySecret?: secretsmanager.ISecret;

  /**
   * What one publish request may carry (events, value, request, key and header sizes); each limit left
   * out keeps its default. Requests are at most 6 MB (the Lambda payload limit).
   * @default - 1000 events, 1 MiB per value, 6 MB per request, 4 KiB keys, 64 headers of 16 KiB in all
   */
  readonly publishLimits?: Partial<PublishLimits>;

  /**
   * Whether the API logs every request (one JSON line each: method, path, status, duration, correlation
   * id) or only those that fail with a 5xx, which it logs either way. At about 300 bytes a line, the
   * access log costs $0.14 per million requests in CloudWatch Logs ingestion ($0.50 per GB, us-east-1):
   * for single-event publishes, a sixth of what the rest of a publish costs. Requests by status class
   * are counted without it, in the Function URL's metrics (`Url4xxCount`, `Url5xxCount`).
   * @default false
   */
  readonly accessLog?: boolean;

  /**
   * How the Function URL authenticates: `NONE` leaves it to the bus's own bearer keys; `AWS_IAM` makes every
   * caller sign its requests (SigV4), with what each principal may do granted by `grantPublish`.
   * @default lambda.FunctionUrlAuthType.NONE
   */
  readonly urlAuthType?: lambda.FunctionUrlAuthType;

  /**
   * Concurrent executions reserved for (and capping) the API function: a bound on what a flood of requests
   * can cost. Leave unset on accounts with a low concurrency quota (docs/adr/0010).
   * @default - no reservation: the account's unreserved concurrency
   */
  readonly apiReservedConcurrency?: number;

  /**
   * Concurrent executions reserved for (and capping) the deliverer: at most this many cursors are delivered
   * at once; more wait for the sweep (docs/adr/0010).
   * @default - no reservation
   */
  readonly deliveryReservedConcurrency?: number;

  /**
   * X-Ray tracing of the functions. X-Ray bills $5.00 per million traces recorded: with Lambda's default
   * sampling (one a second, then 5 %) an actively traced API adds about $0.25-0.37 per million single-event
   * publishes — a third of what a publish costs otherwise (docs/benchmarks.md, cost section). So by default
   * the API passes tracing through (it traces a request whose caller sent a sampled `X-Amzn-Trace-Id`) and
   * the dispatcher, deliverer and sweeper, a few invocations per many events, trace actively. Set, this
   * applies to every function.
   * @default - `PASS_THROUGH` for the API function, `ACTIVE` for the others
   */
  readonly tracing?: lambda.Tracing;

  /**
   * Whether the API serves the web console at `/console` (its assets are bundled beside the API
   * function's code; the publish path never loads them). Off, `/console` answers 404.
   * @default true
   */
  readonly console?: boolean;

  /**
   * How long the log's stream trigger gathers commits (up to 100 records) before it runs the dispatcher. Each
   * run is a Lambda request plus its duration: at 10 records a run that is about $0.033 per million events, at
   * 100 about $0.003 (docs/benchmarks.md, cost section). But delivery of an event may start this much later, so
   * it pays only for a steady, high rate of commits that does not need delivery within a second.
   * @default Duration.seconds(0) - dispatch each batch of commits at once
   */
  readonly dispatchBatchingWindow?: Duration;

  /**
   * CloudWatch alarms and a dashboard on the bus's metrics (embedded metric format, namespace `metricsNamespace`).
   * @default - alarms and a dashboard with the defaults of `MonitoringOptions`
   */
  readonly monitoring?: MonitoringOptions;
}

interface ResolvedProps {
  readonly removalPolicy: RemovalPolicy;
  readonly inlineThresholdBytes: number;
  readonly maxRetentionDays: number;
  readonly logRetention: logs.RetentionDays;
  readonly publishLimits: PublishLimits;
  readonly accessLog: boolean;
}

/**
 * The whole bus: log, groups and registry tables, the segment bucket, and the api, dispatcher, deliverer and
 * sweeper functions, wired as `shared/topology.ts` describes. Topics and consumer groups can be declared in
 * code beside the functions that use them; they are registered at deploy time.
 *
 * @example
 * const bus = new EventBus(this, 'Bus');
 * const orders = bus.addTopic('orders', { partitions: 4, retention: Duration.days(7) });
 * bus.subscribe('billing', { topic: orders, target: billingFunction, maxAttempts: 5 });
 * bus.grantPublish(checkoutFunction, 'orders');
 */
export class EventBus extends Construct {
  public readonly logTable: dynamodb.TableV2;
  public readonly groupsTable: dynamodb.TableV2;
  public readonly registryTable: dynamodb.TableV2;
  public readonly bucket: s3.Bucket;
  public readonly apiFunction: lambda.Function;
  public readonly dispatcherFunction: lambda.Function;
  /** Delivers to subscribers; `subscribe` grants it invocation of Lambda targets (or `grantDeliveryTo`). */
  public readonly delivererFunction: lambda.Function;
  public readonly sweeperFunction: lambda.Function;
  /**
   * Where stream batches the dispatcher gave up on are recorded (their position in the stream, not
   * their data): nothing is lost by skipping one, since the schedules catch up floors and deliveries.
   */
  public readonly dispatchFailures: sqs.Queue;
  /**
   * Lease wakes (docs/adr/0019): a delayed message per lease a deliverer takes, due once it would lapse;
   * the dispatcher consumes them and wakes a partition whose holder died.
   */
  public readonly leaseWakes: sqs.Queue;
  /** The Function URL of the API (ends with a slash). */
  public readonly url: string;
  public readonly urlAuthType: lambda.FunctionUrlAuthType;
  public readonly adminKeySecret: secretsmanager.ISecret;
  /** The CloudWatch namespace of the bus's own metrics. */
  public readonly metricsNamespace: string;
  public readonly monitoring?: BusMonitoring;

  private readonly resolved: ResolvedProps;
  private readonly topics = new Map<string, BusTopic>();
  /** The topic targets declared so far: a new one closing a circle among them fails synthesis. */
  private readonly routes: TopicRoute[] = [];
  private readonly declarations = new Map<string, CustomResource>();
  private registrar?: cr.Provider;
  private registrarFunction?: lambda.Function;

  constructor(scope: Construct, id: string, props: EventBusProps = {}) {
    super(scope, id);
    // Validate before anything is built: bundling runs while the functions are constructed.
    const resolved = resolveProps(props);
    this.resolved = resolved;

    this.logTable = this.table(logTable, resolved);
    this.groupsTable = this.table(groupsTable, resolved);
    this.registryTable = this.table(registryTable, resolved);

    const destroy = resolved.removalPolicy === RemovalPolicy.DESTROY;
    this.bucket = new s3.Bucket(this, segmentBucket.id, {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: resolved.removalPolicy,
      autoDeleteObjects: destroy,
      lifecycleRules: [
        {
          id: 'ExpireSegments',
          prefix: segmentBucket.prefix,
          expiration: Duration.days(resolved.maxRetentionDays + 1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });

    this.adminKeySecret =
      props.adminKeySecret ??
      new secretsmanager.Secret(this, 'AdminKey', {
        description: 'Admin bearer key of the event bus',
        generateSecretString: { passwordLength: 48, excludePunctuation: true },
        removalPolicy: resolved.removalPolicy,
      });

    // No dead-letter queue: a wake that keeps failing is stale within minutes, and the sweep covers it.
    this.leaseWakes = new sqs.Queue(this, leaseWakeQueue.id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.minutes(leaseWakeQueue.retentionMinutes),
      // Lambda's event source needs at least the consumer's timeout.
      visibilityTimeout: Duration.seconds(dispatcherFunction.timeoutSeconds),
    });

    this.metricsNamespace = `EventBus/${Stack.of(this).stackName}/${id}`;
    const tracing = props.tracing ?? lambda.Tracing.ACTIVE;
    this.apiFunction = this.function(
      apiFunction,
      resolved,
      props.tracing ?? lambda.Tracing.PASS_THROUGH,
      props.console !== false,
    );
    this.dispatcherFunction = this.function(dispatcherFunction, resolved, tracing);
    this.delivererFunction = this.function(delivererFunction, resolved, tracing);
    this.sweeperFunction = this.function(sweeperFunction, resolved, tracing);
    if (props.apiReservedConcurrency !== undefined) {
      checkConcurrency('apiReservedConcurrency', props.apiReservedConcurrency);
      (this.apiFunction.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions =
        props.apiReservedConcurrency;
    }
    if (props.deliveryReservedConcurrency !== undefined) {
      checkConcurrency('deliveryReservedConcurrency', props.deliveryReservedConcurrency);
      (this.delivererFunction.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions =
        props.deliveryReservedConcurrency;
    }
    // A wake-up that fails is retried twice, then dropped: the sweep finds the lagging cursor within a minute.
    this.delivererFunction.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(1) });

    for (const [def, fn] of [
      [apiFunction, this.apiFunction],
      [dispatcherFunction, this.dispatcherFunction],
      [delivererFunction, this.delivererFunction],
      [sweeperFunction, this.sweeperFunction],
    ] as const) {
      this.grantAccess(def, fn);
    }

    // With NONE the bus checks bearer keys itself, so the URL is public at the IAM level.
    this.urlAuthType = props.urlAuthType ?? lambda.FunctionUrlAuthType.NONE;
    const functionUrl = this.apiFunction.addFunctionUrl({
      authType: this.urlAuthType,
      invokeMode: lambda.InvokeMode.BUFFERED,
    });
    this.url = functionUrl.url;

    this.dispatchFailures = new sqs.Queue(this, 'DispatchFailures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.dispatcherFunction.addEventSource(
      new DynamoEventSource(this.logTable, {
        // A batch that keeps failing is bounded in retries and then set aside, so it can never wedge the shard.
        onFailure: new SqsDlq(this.dispatchFailures),
        startingPosition: lambda.StartingPosition[dispatcherTrigger.startingPosition],
        batchSize: dispatcherTrigger.batchSize,
        maxBatchingWindow: dispatchBatchingWindow(props.dispatchBatchingWindow),
        retryAttempts: dispatcherTrigger.retryAttempts,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        filters: [
          lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.or(...dispatcherTrigger.eventNames) }),
        ],
      }),
    );

    this.dispatcherFunction.addEventSource(
      new SqsEventSource(this.leaseWakes, {
        batchSize: leaseWakeQueue.batchSize,
        reportBatchItemFailures: true,
      }),
    );

    new events.Rule(this, 'DeliverySweepSchedule', {
      description: 'Wakes consumer groups with lag or due retries that no stream record woke',
      schedule: events.Schedule.rate(Duration.minutes(deliverySweepSchedule.awsRateMinutes)),
      targets: [new targets.LambdaFunction(this.dispatcherFunction)],
    });

    new events.Rule(this, 'SweeperSchedule', {
      description: 'Runs the event bus sweeper',
      schedule: events.Schedule.rate(Duration.minutes(sweeperSchedule.awsRateMinutes)),
      targets: [new targets.LambdaFunction(this.sweeperFunction)],
    });

    this.acknowledgeChecks();

    if (props.monitoring?.enabled !== false) {
      this.monitoring = new BusMonitoring(this, 'Monitoring', {
        ...props.monitoring,
        namespace: this.metricsNamespace,
        functions: [this.apiFunction, this.dispatcherFunction, this.delivererFunction, this.sweeperFunction],
        dispatcher: this.dispatcherFunction,
        dispatchFailures: this.dispatchFailures,
      });
    }
  }

  /**
   * Declares a topic: it is created at deploy time, before the first event. A declared topic's partitions
   * and retention cannot change later (the deployment fails saying so). A declared schema is registered as
   * the topic's next version when it changed; one its compatibility mode refuses fails the deployment.
   *
   * @example
   * const orders = bus.addTopic('orders', {
   *   partitions: 4,
   *   retention: Duration.days(7),
   *   schema: { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] },
   *   compatibility: 'BACKWARD',
   * });
   */
  addTopic(name: string, options: TopicOptions): BusTopic {
    if (this.topics.has(name)) throw new Error(`Topic "${name}" is declared twice on this bus.`);
    const { topic, schema, compatibility } = topicDeclaration(name, options, this.resolved.maxRetentionDays);
    this.topics.set(name, topic);
    // The schema goes with its topic: registered right after the topic is, before any subscription reading
    // or routing into it (those depend on this resource).
    this.declare(`Topic.${name}`, {
      kind: 'topic',
      topic,
      ...(schema === undefined ? {} : { schema }),
      ...(compatibility === undefined ? {} : { compatibility }),
      removeOnDelete: options.removeOnDelete ?? false,
    });
    return topic;
  }

  /**
   * Declares a consumer group reading a declared topic: registered at deploy time, its cursors starting
   * where `startFrom` says. A Lambda target is granted to the deliverer, and only it; a webhook gets a
   * signing secret (given, or generated in Secrets Manager).
   *
   * @example
   * bus.subscribe('billing', { topic: orders, target: billingFunction, batchSize: 50 });
   * bus.subscribe('crm', { topic: 'orders', target: 'https://crm.example.com/hooks/orders' });
   * // A route: orders over 100 appended to another topic, keyed by customer.
   * const bigOrders = bus.addTopic('big-orders', { partitions: 2 });
   * bus.subscribe('big-orders-route', {
   *   topic: orders,
   *   target: bigOrders,
   *   targetKey: 'value.customer',
   *   filter: { value: { total: [{ numeric: ['>', 100] }] } },
   * });
   */
  subscribe(group: string, options: SubscriptionOptions): BusSubscription {
    if (this.declarations.has(`Subscription.${group}`)) {
      throw new Error(`Subscription "${group}" is declared twice on this bus.`);
    }
    const body = subscriptionBody(group, options, this.topics, this.routes, (fn) => fn.functionArn);
    const target = body.target as { type: string; topic?: string };
    let signingSecret: secretsmanager.ISecret | undefined;
    if (target.type === 'topic') {
      // A route needs no grant: the deliverer appends to the log as it already may (shared/topology.ts).
      this.routes.push({ from: body.topic as string, to: target.topic as string });
    } else if (typeof options.target === 'string') {
      signingSecret =
        options.signingSecret ??
        new secretsmanager.Secret(this, `SigningSecret.${group}`, {
          description: `Standard Webhooks signing secret of consumer group ${group} (sign with "whsec_" and this value)`,
          // Letters and digits only: valid base64, as Standard Webhooks secrets are.
          generateSecretString: { passwordLength: 44, excludePunctuation: true },
          removalPolicy: this.resolved.removalPolicy,
        });
    } else {
      this.grantDeliveryTo(options.target as lambda.IFunction);
    }
    const resource = this.declare(
      `Subscription.${group}`,
      { kind: 'subscription', group, subscription: body, removeOnDelete: options.removeOnDelete ?? false },
      signingSecret,
    );
    resource.node.addDependency(this.declarations.get(`Topic.${body.topic as string}`) as CustomResource);
    // A route is registered after the topic it appends to, and that topic's schema.
    if (target.topic !== undefined)
      resource.node.addDependency(this.declarations.get(`Topic.${target.topic}`) as CustomResource);
    return { group, topic: body.topic as string, signingSecret };
  }

  /**
   * Lets the bus deliver to `fn`: subscriptions with `{"type": "lambda", "function": <its name or ARN>}`
   * reach it. Only functions granted here (or subscribed with `subscribe`) can be targets.
   *
   * @example
   * bus.grantDeliveryTo(billingFunction);
   */
  grantDeliveryTo(fn: lambda.IFunction): void {
    fn.grantInvoke(this.delivererFunction);
    if (fn.node.defaultChild && Stack.of(fn) === Stack.of(this)) {
      Validations.of(this).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${this.arnOf(fn)}:*]`,
        reason: "An invoke grant covers the function's versions.",
      });
    }
  }

  /**
   * Lets a principal call the API: with `urlAuthType: AWS_IAM`, invocation of the Function URL. What it may
   * do there is still the bus's business: publish on the topics `topicPattern` matches is registered for
   * its role at deploy time.
   *
   * @example
   * bus.grantPublish(checkoutFunction, 'orders*');
   */
  grantPublish(grantee: iam.IGrantable, topicPattern = '*'): iam.Grant {
    if (this.urlAuthType !== lambda.FunctionUrlAuthType.AWS_IAM) {
      throw new Error(
        'grantPublish needs urlAuthType: AWS_IAM; with NONE, give the producer an API key with "publish" instead.',
      );
    }
    if (!/^[A-Za-z0-9._*-]{1,200}$/.test(topicPattern)) {
      throw new Error(`"${topicPattern}" is not a topic pattern: topic name characters and "*".`);
    }
    // A signed caller is known by its role's name (shared/auth/iam-grants.ts).
    const role = grantee.grantPrincipal as Partial<iam.IRole> & iam.IPrincipal;
    if (!role.roleName || !role.node) {
      throw new Error('grantPublish needs a role (a function, or an iam.Role) as the grantee.');
    }
    this.declare(`Publisher.${role.node.addr}.${topicPattern}`, {
      kind: 'iam-grant',
      role: role.roleName,
      acl: [{ topics: topicPattern, permissions: ['publish'] }],
      // A grant goes with the code that made it.
      removeOnDelete: true,
    });
    return this.apiFunction.grantInvokeUrl(grantee);
  }

  /**
   * The AwsSolutions (cdk-nag) findings this design accepts, each with its reason. Acknowledged on the bus
   * construct, they cover what it creates later too (the registrar, webhook secrets).
   */
  private acknowledgeChecks(): void {
    const acknowledge = (id: string, reason: string) => Validations.of(this).acknowledge({ id, reason });
    acknowledge(
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'The functions use AWSLambdaBasicExecutionRole, which only lets a function write its own log streams.',
    );
    const wildcards: [string, string][] = [
      ['Resource::*', 'X-Ray tracing takes no resource.'],
      [
        `Resource::${this.arnOf(this.logTable)}/index/*`,
        "Table grants include the log's time index, which reads query.",
      ],
      [`Resource::${this.arnOf(this.bucket)}/*`, 'Segment objects are keyed by topic, partition and uuid.'],
      [
        `Resource::${this.arnOf(this.delivererFunction)}:*`,
        "An invoke grant covers the function's versions.",
      ],
      ...['List', 'GetObject', 'GetBucket', 'DeleteObject', 'Abort', 'PutObject'].map(
        (action): [string, string] => [
          `Action::s3:${action}*`,
          "CDK's bucket grants name S3 actions by prefix.",
        ],
      ),
    ];
    for (const [finding, reason] of wildcards) acknowledge(`AwsSolutions-IAM5[${finding}]`, reason);
    acknowledge(
      'AwsSolutions-SMG4',
      'The admin key and webhook signing secrets are rotated by their operators (the API re-reads the admin key every few minutes), not by a rotation function.',
    );
    acknowledge(
      'AwsSolutions-SQS3',
      'DispatchFailures is itself the dead-letter destination of the stream source; LeaseWakes holds wakes stale within minutes, which the delivery sweep covers (docs/adr/0019).',
    );
    acknowledge(
      'AwsSolutions-S1',
      "Only the bus's functions reach the segment bucket; server access logs would add a request per request, and CloudTrail data events can audit it where required.",
    );
  }

  /** How cdk-nag names a resource's ARN in a finding. */
  private arnOf(construct: Construct): string {
    return `<${Stack.of(this).getLogicalId(construct.node.defaultChild as CfnElement)}.Arn>`;
  }

  /** A custom resource applying one declaration through the registrar, built on first use. */
  private declare(
    id: string,
    declaration: Declaration,
    signingSecret?: secretsmanager.ISecret,
  ): CustomResource {
    if (!this.registrar) {
      this.registrarFunction = this.function(registrarFunction, this.resolved, lambda.Tracing.DISABLED);
      this.grantAccess(registrarFunction, this.registrarFunction);
      Validations.of(this).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${this.arnOf(this.registrarFunction)}:*]`,
        reason: "The custom resource framework's invoke grant covers the registrar's versions.",
      });
      this.registrar = new cr.Provider(this, 'RegistrarProvider', {
        onEventHandler: this.registrarFunction,
        logGroup: new logs.LogGroup(this, 'RegistrarProviderLogs', {
          retention: this.resolved.logRetention,
          removalPolicy: this.resolved.removalPolicy,
        }),
      });
    }
    signingSecret?.grantRead(this.registrarFunction as NodejsFunction);
    const resource = new CustomResource(this, id, {
      serviceToken: this.registrar.serviceToken,
      resourceType: `Custom::EventBus${declaration.kind[0].toUpperCase()}${declaration.kind.slice(1)}`,
      properties: {
        // One JSON text: CloudFormation would turn numbers in nested properties into strings.
        Declaration: Stack.of(this).toJsonString(declaration),
        ...(signingSecret ? { SigningSecretArn: signingSecret.secretArn } : {}),
      },
    });
    this.declarations.set(id, resource);
    return resource;
  }

  /**
   * Grants `fn` what its definition's `access` says, and nothing more (the topology is the one
   * description of it; test/infra checks the role against it).
   */
  private grantAccess(def: FunctionDefinition, fn: NodejsFunction): void {
    const { access } = def;
    for (const [name, def] of Object.entries(accessTables) as [
      keyof typeof accessTables,
      TableDefinition,
    ][]) {
      if (access[name] === 'rw') this.tableFor(def).grantReadWriteData(fn);
      else if (access[name] === 'r') this.tableFor(def).grantReadData(fn);
    }
    if (access.segments === 'rw') this.bucket.grantReadWrite(fn);
    else if (access.segments === 'r') this.bucket.grantRead(fn);
    else if (access.segments === 'rd') {
      this.bucket.grantRead(fn);
      this.bucket.grantDelete(fn);
    }
    if (access.adminKey === 'r') this.adminKeySecret.grantRead(fn);
    // Arming sends; consuming (the dispatcher's event source) receives and deletes, and re-arms by sending.
    if (access.leaseWakes === 'send' || access.leaseWakes === 'consume')
      this.leaseWakes.grantSendMessages(fn);
    if (access.leaseWakes === 'consume') this.leaseWakes.grantConsumeMessages(fn);
    if (access.deliverer === 'invoke') {
      if (fn === this.delivererFunction) {
        // The deliverer hands work it has no time for to a fresh invocation of itself. A separate policy:
        // on its own role's default policy, its own ARN would make the function depend on itself.
        new iam.Policy(this, 'DelivererHandOff', {
          roles: [fn.role as iam.IRole],
          statements: [
            new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }),
          ],
        });
      } else {
        // Whoever wakes deliverers learns the deliverer's name; the deliverer itself reads its own from
        // AWS_LAMBDA_FUNCTION_NAME (its own ARN in its environment would be a circular reference).
        fn.addEnvironment(SETTINGS.delivererFunction.env, this.delivererFunction.functionName);
        this.delivererFunction.grantInvoke(fn);
      }
    }
  }

  private table(def: TableDefinition, resolved: ResolvedProps): dynamodb.TableV2 {
    return new dynamodb.TableV2(this, def.id, {
      partitionKey: attribute(def.partitionKey),
      sortKey: attribute(def.sortKey),
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      timeToLiveAttribute: def.timeToLiveAttribute,
      dynamoStream: def.stream === undefined ? undefined : dynamodb.StreamViewType[def.stream],
      globalSecondaryIndexes: def.indexes?.map((index) => ({
        indexName: index.indexName,
        partitionKey: attribute(index.partitionKey),
        sortKey: attribute(index.sortKey),
        projectionType: dynamodb.ProjectionType[index.projection],
      })),
      removalPolicy: resolved.removalPolicy,
    });
  }

  /** The table built from a topology definition. */
  private tableFor(def: TableDefinition): dynamodb.TableV2 {
    return {
      [logTable.id]: this.logTable,
      [groupsTable.id]: this.groupsTable,
      [registryTable.id]: this.registryTable,
    }[def.id] as dynamodb.TableV2;
  }

  /** The tables' names and the settings the definition names, and nothing else, reach the function. */
  private environmentOf(def: FunctionDefinition, resolved: ResolvedProps): Record<string, string> {
    const values: { [K in SettingName]?: string | number } = {
      inlineThresholdBytes: resolved.inlineThresholdBytes,
      // Topics may keep events as long as the bucket's lifecycle keeps their segments.
      maxRetentionHours: resolved.maxRetentionDays * 24,
      adminKeySecretArn: this.adminKeySecret.secretArn,
      accessLog: String(resolved.accessLog),
      ...limitSettings(resolved.publishLimits),
    };
    return {
      ...Object.fromEntries(tablesOf(def).map((table) => [table.envVar, this.tableFor(table).tableName])),
      ...(def.access.segments ? { [segmentBucket.envVar]: this.bucket.bucketName } : {}),
      ...(def.access.leaseWakes ? { [leaseWakeQueue.envVar]: this.leaseWakes.queueUrl } : {}),
      ...settingsEnvironment(def.settings, values),
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'eventbus',
      POWERTOOLS_METRICS_NAMESPACE: this.metricsNamespace,
    };
  }

  private function(
    def: FunctionDefinition,
    resolved: ResolvedProps,
    tracing: lambda.Tracing,
    withConsole = false,
  ): lambda.Function {
    const logGroup = new logs.LogGroup(this, `${def.id}Logs`, {
      retention: resolved.logRetention,
      removalPolicy: resolved.removalPolicy,
    });
    const props = {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: def.memoryMiB,
      timeout: Duration.seconds(def.timeoutSeconds),
      environment: this.environmentOf(def, resolved),
      logGroup,
      // CloudWatch Logs bills every line ingested. JSON format lets Lambda filter by level: at WARN its own
      // per-invocation lines (platform.start, platform.report: about 360 bytes per invocation as text) are not
      // ingested; its metrics (Duration, Errors, Throttles), which the alarms use, do not come from them.
      // The application level stays INFO: EMF metric lines carry no "level", Lambda files them under INFO,
      // and a stricter level would drop the bus's metrics. Powertools Logger takes this level too
      // (AWS_LAMBDA_LOG_LEVEL); the API's per-request lines are the `accessLog` prop's to switch.
      loggingFormat: lambda.LoggingFormat.JSON,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      tracing,
    };
    // The @eventbus/cdk package ships each function bundled beside the construct (packages/build.ts);
    // in this repository the construct bundles them from source.
    const prebuilt = path.join(__dirname, 'functions', def.id);
    if (existsSync(prebuilt)) {
      return new lambda.Function(this, def.id, {
        ...props,
        // The API's bundle ships with the console beside it; without the console, its asset leaves it out.
        code: lambda.Code.fromAsset(prebuilt, withConsole ? {} : { exclude: [CONSOLE_ASSETS] }),
        handler: `index.${def.handler}`,
      });
    }
    return new NodejsFunction(this, def.id, {
      ...props,
      entry: path.join(__dirname, '..', def.entry),
      handler: def.handler,
      bundling: {
        ...FUNCTION_BUNDLING,
        format: OutputFormat.CJS,
        externalModules: [...FUNCTION_BUNDLING.externalModules],
        commandHooks: withConsole ? consoleBundling : undefined,
      },
    });
  }
}

/** How each function is bundled: by NodejsFunction here, by esbuild into the @eventbus/cdk package. */
export const FUNCTION_BUNDLING = {
  minify: true,
  sourceMap: true,
  target: 'node24',
  format: 'cjs',
  // The runtime ships SDK v3 and its Smithy dependencies; bundling either half alone risks a mismatch.
  externalModules: ['@aws-sdk/*', '@smithy/*'],
} as const;

const ATTRIBUTE_TYPES: Record<AttributeType, dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

function attribute(key: KeyDefinition): dynamodb.Attribute {
  return { name: key.name, type: ATTRIBUTE_TYPES[key.type] };
}

const RETENTION_DAYS = new Set<number>(
  Object.values(logs.RetentionDays).filter((value): value is number => typeof value === 'number'),
);

/** The dispatcher's batching window: the topology's (none) unless the construct's user chose one, up to Lambda's 300 s. */
function dispatchBatchingWindow(window: Duration | undefined): Duration {
  if (window === undefined) return Duration.seconds(dispatcherTrigger.maxBatchingWindowSeconds);
  if (!Token.isUnresolved(window.toSeconds()) && window.toSeconds() > 300)
    throw new Error(`dispatchBatchingWindow must be at most 300 seconds, got ${window.toSeconds()}.`);
  return window;
}

function checkConcurrency(name: string, value: number): void {
  if (Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got ${value}.`);
}

/** Props checked as aws-cdk's constructs check theirs: a token is taken as it is, deploy time resolves it. */
function resolveProps(props: EventBusProps): ResolvedProps {
  const inlineThresholdBytes = props.inlineThresholdBytes ?? SETTINGS.inlineThresholdBytes.default;
  if (
    !Token.isUnresolved(inlineThresholdBytes) &&
    (!Number.isInteger(inlineThresholdBytes) ||
      inlineThresholdBytes < 1 ||
      inlineThresholdBytes > MAX_INLINE_THRESHOLD_BYTES)
  ) {
    throw new Error(
      `inlineThresholdBytes must be an integer in 1..${MAX_INLINE_THRESHOLD_BYTES}, got ${inlineThresholdBytes}.`,
    );
  }
  const maxRetentionDays = props.maxRetentionDays ?? 30;
  if (Token.isUnresolved(maxRetentionDays)) {
    throw new Error(
      "maxRetentionDays must be known at synthesis: the topics' retention is checked against it.",
    );
  }
  if (!Number.isInteger(maxRetentionDays) || maxRetentionDays < MIN_RETENTION_DAYS) {
    throw new Error(
      `maxRetentionDays must be an integer of at least ${MIN_RETENTION_DAYS}, got ${maxRetentionDays}.`,
    );
  }
  const logRetentionDays = props.logRetentionDays ?? logs.RetentionDays.ONE_MONTH;
  if (!RETENTION_DAYS.has(logRetentionDays)) {
    throw new Error(
      `logRetentionDays must be one of ${[...RETENTION_DAYS].join(', ')}, got ${logRetentionDays}.`,
    );
  }
  return {
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    inlineThresholdBytes,
    maxRetentionDays,
    logRetention: logRetentionDays as logs.RetentionDays,
    publishLimits: resolveLimits(props.publishLimits),
    accessLog: props.accessLog ?? SETTINGS.accessLog.default,
  };
}
