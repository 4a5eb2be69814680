import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MAX_INLINE_THRESHOLD_BYTES } from '../shared/config';
import { LIMIT_ENV, type PublishLimits, resolveLimits } from '../shared/publish/limits';
import {
  type AttributeType,
  apiFunction,
  delivererFunction,
  deliverySweepSchedule,
  dispatcherFunction,
  dispatcherTrigger,
  type FunctionDefinition,
  groupsTable,
  type KeyDefinition,
  logTable,
  registryTable,
  segmentBucket,
  settingsEnv,
  sweeperFunction,
  sweeperSchedule,
  type TableDefinition,
} from '../shared/topology';

/** Environment variables the handlers read beyond the tables' and bucket's own (see shared/config.ts). */
const INLINE_THRESHOLD_ENV = settingsEnv.inlineThresholdBytes;
const ADMIN_KEY_SECRET_ENV = settingsEnv.adminKeySecretArn;

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
}

interface ResolvedProps {
  readonly removalPolicy: RemovalPolicy;
  readonly inlineThresholdBytes: number;
  readonly maxRetentionDays: number;
  readonly logRetention: logs.RetentionDays;
  readonly publishLimits: PublishLimits;
}

/**
 * The whole bus: log, groups and registry tables, the segment bucket, and the api, dispatcher and
 * sweeper functions, wired as `shared/topology.ts` describes.
 */
export class EventBus extends Construct {
  public readonly logTable: dynamodb.TableV2;
  public readonly groupsTable: dynamodb.TableV2;
  public readonly registryTable: dynamodb.TableV2;
  public readonly bucket: s3.Bucket;
  public readonly apiFunction: NodejsFunction;
  public readonly dispatcherFunction: NodejsFunction;
  /** Delivers to subscribers; grant it invocation of Lambda targets with `grantDeliveryTo`. */
  public readonly delivererFunction: NodejsFunction;
  public readonly sweeperFunction: NodejsFunction;
  /**
   * Where stream batches the dispatcher gave up on are recorded (their position in the stream, not
   * their data): nothing is lost by skipping one, since the schedules catch up floors and deliveries.
   */
  public readonly dispatchFailures: sqs.Queue;
  /** The Function URL of the API (ends with a slash). */
  public readonly url: string;
  public readonly adminKeySecret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: EventBusProps = {}) {
    super(scope, id);
    // Validate before anything is built: bundling runs while the functions are constructed.
    const resolved = resolveProps(props);

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

    const environment: Record<string, string> = {
      [logTable.envVar]: this.logTable.tableName,
      [groupsTable.envVar]: this.groupsTable.tableName,
      [registryTable.envVar]: this.registryTable.tableName,
      [segmentBucket.envVar]: this.bucket.bucketName,
      [INLINE_THRESHOLD_ENV]: String(resolved.inlineThresholdBytes),
      // Topics may keep events as long as the bucket's lifecycle keeps their segments.
      [settingsEnv.maxRetentionHours]: String(resolved.maxRetentionDays * 24),
      [ADMIN_KEY_SECRET_ENV]: this.adminKeySecret.secretArn,
      ...Object.fromEntries(
        Object.entries(LIMIT_ENV).map(([name, variable]) => [
          variable,
          String(resolved.publishLimits[name as keyof PublishLimits]),
        ]),
      ),
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'eventbus',
    };
    this.apiFunction = this.function(apiFunction, environment, resolved);
    this.dispatcherFunction = this.function(dispatcherFunction, environment, resolved);
    this.delivererFunction = this.function(delivererFunction, environment, resolved);
    this.sweeperFunction = this.function(sweeperFunction, environment, resolved);

    for (const table of [this.logTable, this.groupsTable, this.registryTable]) {
      table.grantReadWriteData(this.apiFunction);
    }
    this.bucket.grantReadWrite(this.apiFunction);
    this.adminKeySecret.grantRead(this.apiFunction);
    // The dispatcher raises each partition's floor in the meta item, and wakes deliverers for the
    // subscriptions of the partitions touched (docs/adr/0005): it reads subscriptions and cursors.
    this.logTable.grantReadWriteData(this.dispatcherFunction);
    this.registryTable.grantReadData(this.dispatcherFunction);
    this.groupsTable.grantReadData(this.dispatcherFunction);
    // The deliverer reads the log (segments in S3 too), moves cursors, and appends dead letters
    // (creating a group's dead-letter topic on first use).
    for (const table of [this.logTable, this.groupsTable, this.registryTable]) {
      table.grantReadWriteData(this.delivererFunction);
    }
    this.bucket.grantReadWrite(this.delivererFunction);
    // Whoever wakes deliverers learns the deliverer's name; the deliverer itself reads its own from
    // AWS_LAMBDA_FUNCTION_NAME (its own ARN in its environment would be a circular reference).
    for (const fn of [this.apiFunction, this.dispatcherFunction]) {
      fn.addEnvironment(settingsEnv.delivererFunction, this.delivererFunction.functionName);
      this.delivererFunction.grantInvoke(fn);
    }
    // The deliverer hands work it has no time for to a fresh invocation of itself. A separate policy:
    // on its own role's default policy, its own ARN would make the function depend on itself.
    new iam.Policy(this, 'DelivererHandOff', {
      roles: [this.delivererFunction.role as iam.IRole],
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [this.delivererFunction.functionArn],
        }),
      ],
    });
    // The sweeper raises floors the stream left behind (it lists topics for that), and deletes orphaned objects.
    this.logTable.grantReadWriteData(this.sweeperFunction);
    this.registryTable.grantReadData(this.sweeperFunction);
    this.bucket.grantRead(this.sweeperFunction);
    this.bucket.grantDelete(this.sweeperFunction);

    // The bus checks bearer keys itself, so the URL is public at the IAM level.
    const functionUrl = this.apiFunction.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
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
        maxBatchingWindow: Duration.seconds(dispatcherTrigger.maxBatchingWindowSeconds),
        retryAttempts: dispatcherTrigger.retryAttempts,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        // Commits are inserts; floor updates (MODIFY) and TTL deletions (REMOVE) need no dispatch.
        filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual('INSERT') })],
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
  }

  /**
   * Lets the bus deliver to `fn`: subscriptions with `{"type": "lambda", "function": <its name or ARN>}`
   * reach it. Only functions granted here can be targets.
   *
   * @example
   * const bus = new EventBus(this, 'Bus');
   * bus.grantDeliveryTo(billingFunction);
   */
  grantDeliveryTo(fn: lambda.IFunction): void {
    fn.grantInvoke(this.delivererFunction);
  }

  private table(def: TableDefinition, resolved: ResolvedProps): dynamodb.TableV2 {
    return new dynamodb.TableV2(this, def.id, {
      partitionKey: attribute(def.partitionKey),
      sortKey: attribute(def.sortKey),
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
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

  private function(
    def: FunctionDefinition,
    environment: Record<string, string>,
    resolved: ResolvedProps,
  ): NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${def.id}Logs`, {
      retention: resolved.logRetention,
      removalPolicy: resolved.removalPolicy,
    });
    return new NodejsFunction(this, def.id, {
      entry: path.join(__dirname, '..', def.entry),
      handler: def.handler,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: def.memoryMiB,
      timeout: Duration.seconds(def.timeoutSeconds),
      environment,
      logGroup,
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node24',
        format: OutputFormat.CJS,
        // The runtime ships SDK v3 and its Smithy dependencies; bundling either half alone risks a mismatch.
        externalModules: ['@aws-sdk/*', '@smithy/*'],
      },
    });
  }
}

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

function resolveProps(props: EventBusProps): ResolvedProps {
  const inlineThresholdBytes = props.inlineThresholdBytes ?? 8192;
  if (
    !Number.isInteger(inlineThresholdBytes) ||
    inlineThresholdBytes < 1 ||
    inlineThresholdBytes > MAX_INLINE_THRESHOLD_BYTES
  ) {
    throw new Error(
      `inlineThresholdBytes must be an integer in 1..${MAX_INLINE_THRESHOLD_BYTES}, got ${inlineThresholdBytes}.`,
    );
  }
  const maxRetentionDays = props.maxRetentionDays ?? 30;
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
  };
}
