import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, type CfnElement, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';
import { EventBus, type EventBusProps } from '../../infra/eventbus';
import { EventBusStack } from '../../infra/eventbus-stack';
import { SETTINGS } from '../../shared/config';
import {
  deliverySweepSchedule,
  dispatcherTrigger,
  functions,
  groupsTable,
  logTable,
  registrarFunction,
  registryTable,
  segmentBucket,
  sweeperSchedule,
  type TableDefinition,
  tables,
  tablesOf,
} from '../../shared/topology';

// The default stack is bundled with esbuild once for the whole file.
jest.setTimeout(120_000);

/** The feature flags the real app synthesizes with. */
const cdkContext: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'),
).context;

/** An app that skips bundling: for stacks whose function code the test does not look at. */
function unbundledApp(): App {
  return new App({ context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } });
}

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

class Synthesized {
  readonly template: Template;
  private readonly resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;

  constructor(readonly stack: Stack) {
    this.template = Template.fromStack(stack);
    this.resources = this.template.toJSON().Resources;
  }

  logicalId(construct: IConstruct): string {
    return this.stack.getLogicalId(construct.node.defaultChild as CfnElement);
  }

  /** A template of this construct's resource alone, so assertions are about it and no look-alike. */
  only(construct: IConstruct): Template {
    const id = this.logicalId(construct);
    return Template.fromJSON({ Resources: { [id]: this.resources[id] } });
  }

  /** The statements of every policy attached to the function's role. */
  statements(fn: { role?: IConstruct }): Statement[] {
    if (!fn.role) throw new Error('function has no role');
    const roleId = this.logicalId(fn.role);
    const policies = this.template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
    });
    return Object.values(policies).flatMap((policy) => policy.Properties.PolicyDocument.Statement);
  }

  /** Whether the function's role may perform `action` on a resource referring to `target`. */
  allows(fn: { role?: IConstruct }, action: string, target: IConstruct | string): boolean {
    const needle = typeof target === 'string' ? target : `"${this.logicalId(target)}"`;
    return this.statements(fn).some(
      (statement) =>
        statement.Effect === 'Allow' &&
        [statement.Action].flat().some((pattern) => actionMatches(pattern, action)) &&
        [statement.Resource].flat().some((resource) => JSON.stringify(resource).includes(needle)),
    );
  }
}

function actionMatches(pattern: string, action: string): boolean {
  const regexp = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return regexp.test(action);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const TABLE_READS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan'];
const TABLE_WRITES = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];

/**
 * What the function's role may do, read back from the template in the topology's terms (`FunctionAccess`):
 * a level only when every action of it is allowed and none beyond it, else `partial`, so a grant wider or
 * narrower than the topology's shows.
 */
function observedAccess(synthesized: Synthesized, bus: EventBus, fn: { role?: IConstruct }) {
  const all = (actions: string[], target: IConstruct) =>
    actions.every((action) => synthesized.allows(fn, action, target));
  const any = (actions: string[], target: IConstruct) =>
    actions.some((action) => synthesized.allows(fn, action, target));
  const table = (target: IConstruct) => {
    if (!any([...TABLE_READS, ...TABLE_WRITES], target)) return undefined;
    if (all([...TABLE_READS, ...TABLE_WRITES], target)) return 'rw';
    return all(TABLE_READS, target) && !any(TABLE_WRITES, target) ? 'r' : 'partial';
  };
  const read = ['s3:GetObject', 's3:ListBucket'];
  const bucket = () => {
    const [reads, writes, deletes] = [read, ['s3:PutObject'], ['s3:DeleteObject']].map((actions) =>
      all(actions, bus.bucket),
    );
    if (!any([...read, 's3:PutObject', 's3:DeleteObject'], bus.bucket)) return undefined;
    if (reads && writes && deletes) return 'rw';
    if (reads && deletes && !any(['s3:PutObject'], bus.bucket)) return 'rd';
    if (reads && !any(['s3:PutObject', 's3:DeleteObject'], bus.bucket)) return 'r';
    return 'partial';
  };
  const access: Record<string, string | undefined> = {
    log: table(bus.logTable),
    groups: table(bus.groupsTable),
    registry: table(bus.registryTable),
    segments: bucket(),
    adminKey: any(['secretsmanager:GetSecretValue'], bus.adminKeySecret) ? 'r' : undefined,
    deliverer: any(['lambda:InvokeFunction'], bus.delivererFunction) ? 'invoke' : undefined,
  };
  return Object.fromEntries(Object.entries(access).filter(([, level]) => level !== undefined));
}

const MINUTES_PER_UNIT: Record<string, number> = { minute: 1, hour: 60, day: 1440 };

function rateInMinutes(expression: string): number {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (!match) throw new Error(`not a rate expression: ${expression}`);
  return Number(match[1]) * MINUTES_PER_UNIT[match[2]];
}

describe('EventBusStack with default props', () => {
  let synthesized: Synthesized;
  let bus: EventBus;
  let template: Template;

  beforeAll(() => {
    // GIVEN the app's feature flags and no props
    const app = new App({ context: cdkContext });
    // WHEN the stack is synthesized (its functions bundled with the local esbuild)
    const stack = new EventBusStack(app, 'EventBusTest');
    bus = stack.bus;
    synthesized = new Synthesized(stack);
    template = synthesized.template;
  });

  const busTable = (def: TableDefinition) =>
    ({
      [logTable.id]: bus.logTable,
      [groupsTable.id]: bus.groupsTable,
      [registryTable.id]: bus.registryTable,
    })[def.id];

  test('THEN it creates exactly the three tables, one bucket and three functions', () => {
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', tables.length);
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.resourceCountIs('AWS::Lambda::Function', functions.length);
  });

  test.each(tables.map((def) => [def.id, def] as const))(
    'THEN the %s table has its defined keys, on-demand billing and point-in-time recovery',
    (_id, def) => {
      synthesized.only(busTable(def)).hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        KeySchema: [
          { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: def.partitionKey.name, AttributeType: def.partitionKey.type },
          { AttributeName: def.sortKey.name, AttributeType: def.sortKey.type },
        ]),
        BillingMode: 'PAY_PER_REQUEST',
        Replicas: [
          Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
        ],
      });
    },
  );

  test('THEN the log table streams new images, expires items on its TTL attribute and indexes maxTs by keys only', () => {
    synthesized.only(bus.logTable).hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      // A global index: a local one would cap each topic-partition's retained segments at 10 GB.
      LocalSecondaryIndexes: Match.absent(),
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      AttributeDefinitions: Match.arrayWith([{ AttributeName: 'maxTs', AttributeType: 'N' }]),
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byMaxTs',
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'maxTs', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  test('THEN the registry table expires items on its TTL attribute and the groups table never expires items', () => {
    synthesized.only(bus.registryTable).hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TimeToLiveSpecification: { AttributeName: registryTable.timeToLiveAttribute, Enabled: true },
      StreamSpecification: Match.absent(),
    });
    synthesized.only(bus.groupsTable).hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TimeToLiveSpecification: Match.absent(),
      StreamSpecification: Match.absent(),
    });
  });

  test('THEN tables, bucket and the admin key secret are retained when removed from the stack', () => {
    for (const construct of [
      bus.logTable,
      bus.groupsTable,
      bus.registryTable,
      bus.bucket,
      bus.adminKeySecret,
    ]) {
      expect(template.toJSON().Resources[synthesized.logicalId(construct)].DeletionPolicy).toBe('Retain');
    }
  });

  test('THEN the bucket is private, encrypted, SSL-only and expires segments one day after the max retention', () => {
    synthesized.only(bus.bucket).hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: segmentBucket.prefix, ExpirationInDays: 31, Status: 'Enabled' }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: synthesized.logicalId(bus.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('THEN a generated secret holds the admin key', () => {
    synthesized.only(bus.adminKeySecret).hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: 48 }),
    });
  });

  test.each(functions.map((def) => [def.id, def] as const))(
    'THEN the %s function runs on nodejs24.x, arm64, with its defined memory and timeout and 30-day logs',
    (id, def) => {
      const fn = {
        Api: bus.apiFunction,
        Dispatcher: bus.dispatcherFunction,
        Deliverer: bus.delivererFunction,
        Sweeper: bus.sweeperFunction,
      }[id];
      if (!fn) throw new Error(`no function ${id}`);
      const logGroup = new Capture();
      synthesized.only(fn).hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: `index.${def.handler}`,
        MemorySize: def.memoryMiB,
        Timeout: def.timeoutSeconds,
        LoggingConfig: { LogGroup: { Ref: logGroup } },
      });
      expect(template.toJSON().Resources[logGroup.asString()]).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: 30 },
        DeletionPolicy: 'Retain',
      });
    },
  );

  test.each(functions.map((def) => [def.id, def] as const))(
    "THEN the %s function logs JSON, Lambda's own per-invocation lines left out and the application's kept from INFO",
    (id) => {
      const fn = {
        Api: bus.apiFunction,
        Dispatcher: bus.dispatcherFunction,
        Deliverer: bus.delivererFunction,
        Sweeper: bus.sweeperFunction,
      }[id] as NodejsFunction;
      // CloudWatch Logs bills each line: Lambda's START/REPORT lines would be ingested at INFO, and EMF
      // metric lines, which carry no level, would be dropped by an application level above INFO.
      const { LoggingConfig } = template.toJSON().Resources[synthesized.logicalId(fn)].Properties;
      expect(LoggingConfig).toMatchObject({
        LogFormat: 'JSON',
        SystemLogLevel: 'WARN',
        ApplicationLogLevel: 'INFO',
      });
    },
  );

  test('THEN the api logs only its failed requests, not every request', () => {
    synthesized.only(bus.apiFunction).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [SETTINGS.accessLog.env]: 'false' }) },
    });
  });

  test.each(functions.map((def) => [def.id, def] as const))(
    'THEN the %s function learns the tables, bucket and settings its definition names, and nothing else',
    (_id, def) => {
      const fn = {
        Api: bus.apiFunction,
        Dispatcher: bus.dispatcherFunction,
        Deliverer: bus.delivererFunction,
        Sweeper: bus.sweeperFunction,
      }[def.id] as NodejsFunction;
      const variables = template.toJSON().Resources[synthesized.logicalId(fn)].Properties.Environment
        .Variables as Record<string, unknown>;
      const tableRefs = Object.fromEntries(
        tablesOf(def).map((table) => [table.envVar, { Ref: synthesized.logicalId(busTable(table)) }]),
      );
      expect(variables).toMatchObject(tableRefs);
      if (def.access.segments)
        expect(variables[segmentBucket.envVar]).toEqual({ Ref: synthesized.logicalId(bus.bucket) });
      // Every variable is a table, the bucket, a setting the definition names, or the runtime's own.
      const allowed = new Set([
        ...tablesOf(def).map((table) => table.envVar),
        ...(def.access.segments ? [segmentBucket.envVar] : []),
        ...def.settings.map((name) => SETTINGS[name].env),
        'NODE_OPTIONS',
        'POWERTOOLS_SERVICE_NAME',
        'POWERTOOLS_METRICS_NAMESPACE',
      ]);
      expect(Object.keys(variables).filter((name) => !allowed.has(name))).toEqual([]);
      // What the others do not read stays out: no admin key secret beyond the API, no publish limits beyond
      // the API and the deliverer (a topic target's appends are held to them, as publishes are).
      expect('EVENTBUS_ADMIN_KEY_SECRET_ARN' in variables).toBe(def.id === 'Api');
      expect('EVENTBUS_MAX_EVENTS' in variables).toBe(def.id === 'Api' || def.id === 'Deliverer');
    },
  );

  test('THEN the api reads the admin key from its secret, and appenders get the default inline threshold', () => {
    synthesized.only(bus.apiFunction).hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          EVENTBUS_ADMIN_KEY_SECRET_ARN: { Ref: synthesized.logicalId(bus.adminKeySecret) },
          EVENTBUS_INLINE_THRESHOLD_BYTES: '8192',
          NODE_OPTIONS: '--enable-source-maps',
          POWERTOOLS_SERVICE_NAME: 'eventbus',
        }),
      },
    });
    synthesized.only(bus.delivererFunction).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ EVENTBUS_INLINE_THRESHOLD_BYTES: '8192' }) },
    });
  });

  test('THEN the api is public behind a buffered Function URL, which the stack outputs', () => {
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      InvokeMode: 'BUFFERED',
      TargetFunctionArn: { 'Fn::GetAtt': [synthesized.logicalId(bus.apiFunction), 'Arn'] },
    });
    const url = new Capture();
    template.hasOutput('ApiUrl', { Value: { 'Fn::GetAtt': [url, 'FunctionUrl'] } });
    expect(template.toJSON().Resources[url.asString()].Type).toBe('AWS::Lambda::Url');
    template.hasOutput('AdminKeySecretArn', { Value: { Ref: synthesized.logicalId(bus.adminKeySecret) } });
    // The URL once: the construct adds no output of its own beside the stack's.
    const urlOutputs = Object.values(template.toJSON().Outputs as Record<string, { Value: unknown }>).filter(
      (output) => JSON.stringify(output.Value).includes('FunctionUrl'),
    );
    expect(urlOutputs).toHaveLength(1);
  });

  test("THEN the dispatcher consumes only INSERT events of the log table's stream, bisecting failing batches", () => {
    const table = new Capture();
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [table, 'StreamArn'] },
      FunctionName: { Ref: synthesized.logicalId(bus.dispatcherFunction) },
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ eventName: ['INSERT'] }) }] },
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: dispatcherTrigger.batchSize,
      MaximumBatchingWindowInSeconds: dispatcherTrigger.maxBatchingWindowSeconds,
      StartingPosition: dispatcherTrigger.startingPosition,
      MaximumRetryAttempts: dispatcherTrigger.retryAttempts,
    });
    expect(table.asString()).toBe(synthesized.logicalId(bus.logTable));
  });

  test('THEN a stream batch that keeps failing goes to an encrypted, TLS-only queue, so it cannot wedge dispatch', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [synthesized.logicalId(bus.dispatchFailures), 'Arn'] } },
      },
    });
    synthesized
      .only(bus.dispatchFailures)
      .hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    expect(synthesized.allows(bus.dispatcherFunction, 'sqs:SendMessage', bus.dispatchFailures)).toBe(true);
  });

  test('THEN a schedule runs the sweeper at the defined rate', () => {
    const schedule = new Capture();
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: schedule,
      State: 'ENABLED',
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [synthesized.logicalId(bus.sweeperFunction), 'Arn'] } }),
      ],
    });
    expect(rateInMinutes(schedule.asString())).toBe(sweeperSchedule.awsRateMinutes);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [synthesized.logicalId(bus.sweeperFunction), 'Arn'] },
    });
  });

  test.each(functions.map((def) => [def.id, def] as const))(
    "THEN the %s function's role grants exactly the access its topology declares, on nothing else of the bus",
    (_id, def) => {
      const fn = {
        Api: bus.apiFunction,
        Dispatcher: bus.dispatcherFunction,
        Deliverer: bus.delivererFunction,
        Sweeper: bus.sweeperFunction,
      }[def.id] as NodejsFunction;
      expect(observedAccess(synthesized, bus, fn)).toEqual(def.access);
      // Besides the bus's own resources, a role names only X-Ray ("*") and its trigger's stream and queue.
      const known = [
        bus.logTable,
        bus.groupsTable,
        bus.registryTable,
        bus.bucket,
        bus.adminKeySecret,
        bus.delivererFunction,
        bus.dispatchFailures,
      ].map((construct) => `"${synthesized.logicalId(construct)}"`);
      for (const statement of synthesized.statements(fn)) {
        for (const resource of [statement.Resource].flat()) {
          const text = JSON.stringify(resource);
          expect({ resource, known: text === '"*"' || known.some((id) => text.includes(id)) }).toEqual({
            resource,
            known: true,
          });
        }
      }
    },
  );

  test('THEN the api may read and write all three tables and the bucket, and read the admin key', () => {
    for (const table of [bus.logTable, bus.groupsTable, bus.registryTable]) {
      for (const action of [
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:Query',
        'dynamodb:GetItem',
      ]) {
        expect({ action, allowed: synthesized.allows(bus.apiFunction, action, table) }).toEqual({
          action,
          allowed: true,
        });
      }
    }
    for (const action of ['s3:PutObject', 's3:GetObject', 's3:ListBucket']) {
      expect(synthesized.allows(bus.apiFunction, action, bus.bucket)).toBe(true);
    }
    expect(synthesized.allows(bus.apiFunction, 'secretsmanager:GetSecretValue', bus.adminKeySecret)).toBe(
      true,
    );
  });

  test('THEN the dispatcher may read the stream, update the log table, read subscriptions and cursors, and wake the deliverer — nothing else', () => {
    const fn = bus.dispatcherFunction;
    expect(synthesized.allows(fn, 'dynamodb:GetRecords', bus.logTable)).toBe(true);
    expect(synthesized.allows(fn, 'dynamodb:UpdateItem', bus.logTable)).toBe(true);
    expect(synthesized.allows(fn, 'dynamodb:Query', bus.logTable)).toBe(true);
    expect(synthesized.allows(fn, 'dynamodb:BatchGetItem', bus.groupsTable)).toBe(true);
    expect(synthesized.allows(fn, 'dynamodb:Query', bus.registryTable)).toBe(true);
    expect(synthesized.allows(fn, 'dynamodb:UpdateItem', bus.groupsTable)).toBe(false);
    expect(synthesized.allows(fn, 'dynamodb:PutItem', bus.registryTable)).toBe(false);
    expect(synthesized.allows(fn, 'lambda:InvokeFunction', bus.delivererFunction)).toBe(true);
    expect(synthesized.allows(fn, 's3:GetObject', bus.bucket)).toBe(false);
    expect(synthesized.allows(fn, 'secretsmanager:GetSecretValue', bus.adminKeySecret)).toBe(false);
  });

  test('THEN the deliverer may read the log, move cursors, append dead letters and hand off to itself, but not read the admin key', () => {
    const fn = bus.delivererFunction;
    for (const table of [bus.logTable, bus.groupsTable, bus.registryTable]) {
      expect(synthesized.allows(fn, 'dynamodb:UpdateItem', table)).toBe(true);
      expect(synthesized.allows(fn, 'dynamodb:PutItem', table)).toBe(true);
    }
    expect(synthesized.allows(fn, 's3:GetObject', bus.bucket)).toBe(true);
    expect(synthesized.allows(fn, 's3:PutObject', bus.bucket)).toBe(true);
    expect(synthesized.allows(fn, 'lambda:InvokeFunction', bus.delivererFunction)).toBe(true);
    expect(synthesized.allows(fn, 'lambda:InvokeFunction', bus.apiFunction)).toBe(false);
    expect(synthesized.allows(fn, 'secretsmanager:GetSecretValue', bus.adminKeySecret)).toBe(false);
  });

  test('THEN the api and the dispatcher know the deliverer by name, and a schedule runs the delivery sweep every minute', () => {
    for (const fn of [bus.apiFunction, bus.dispatcherFunction]) {
      synthesized.only(fn).hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            EVENTBUS_DELIVERER_FUNCTION: { Ref: synthesized.logicalId(bus.delivererFunction) },
          }),
        },
      });
    }
    expect(synthesized.allows(bus.apiFunction, 'lambda:InvokeFunction', bus.delivererFunction)).toBe(true);
    const schedule = new Capture();
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: schedule,
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [synthesized.logicalId(bus.dispatcherFunction), 'Arn'] } }),
      ],
    });
    expect(rateInMinutes(schedule.asString())).toBe(deliverySweepSchedule.awsRateMinutes);
  });

  test('THEN the sweeper may raise floors in the log table, list topics, and list and delete segment objects', () => {
    const fn = bus.sweeperFunction;
    expect(synthesized.allows(fn, 'dynamodb:Query', bus.logTable)).toBe(true);
    expect(synthesized.allows(fn, 'dynamodb:GetItem', bus.logTable)).toBe(true);
    expect(synthesized.allows(fn, 'dynamodb:UpdateItem', bus.logTable)).toBe(true);
    expect(synthesized.allows(fn, 'dynamodb:Query', bus.registryTable)).toBe(true);
    expect(synthesized.allows(fn, 'dynamodb:PutItem', bus.registryTable)).toBe(false);
    expect(synthesized.allows(fn, 's3:ListBucket', bus.bucket)).toBe(true);
    expect(synthesized.allows(fn, 's3:DeleteObject', bus.bucket)).toBe(true);
    expect(synthesized.allows(fn, 's3:PutObject', bus.bucket)).toBe(false);
    expect(synthesized.allows(fn, 'dynamodb:GetItem', bus.groupsTable)).toBe(false);
  });
});

describe('EventBus with custom props', () => {
  let synthesized: Synthesized;
  let bus: EventBus;
  const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:eventbus-admin-AbCdEf';

  beforeAll(() => {
    // GIVEN a bus that may be destroyed, keeps topics up to 400 days, inlines up to 1000 bytes,
    // keeps logs a week, uses an existing secret and logs every request
    const stack = new Stack(unbundledApp(), 'Custom');
    bus = new EventBus(stack, 'Bus', {
      removalPolicy: RemovalPolicy.DESTROY,
      maxRetentionDays: 400,
      inlineThresholdBytes: 1000,
      logRetentionDays: 7,
      adminKeySecret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Existing', secretArn),
      publishLimits: { maxEvents: 500, maxValueBytes: 256 * 1024 },
      accessLog: true,
    });
    // WHEN it is synthesized
    synthesized = new Synthesized(stack);
  });

  test('THEN tables, bucket and log groups are deleted with the stack, the bucket emptied first', () => {
    const resources = synthesized.template.toJSON().Resources;
    for (const construct of [bus.logTable, bus.groupsTable, bus.registryTable, bus.bucket]) {
      expect(resources[synthesized.logicalId(construct)].DeletionPolicy).toBe('Delete');
    }
    synthesized.template.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
    synthesized.template.hasResourceProperties('Custom::S3AutoDeleteObjects', {
      BucketName: { Ref: synthesized.logicalId(bus.bucket) },
    });
  });

  test('THEN segments expire one day after the max retention', () => {
    synthesized.only(bus.bucket).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Prefix: segmentBucket.prefix, ExpirationInDays: 401 })]),
      },
    });
  });

  test('THEN the functions get the threshold and the existing secret, and no secret is generated', () => {
    for (const fn of [bus.apiFunction]) {
      synthesized.only(fn).hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            EVENTBUS_INLINE_THRESHOLD_BYTES: '1000',
            EVENTBUS_ADMIN_KEY_SECRET_ARN: secretArn,
            // Topics may keep events as long as the lifecycle keeps segments.
            EVENTBUS_MAX_RETENTION_HOURS: String(400 * 24),
            // The publish limits given, and the defaults for the rest.
            EVENTBUS_MAX_EVENTS: '500',
            EVENTBUS_MAX_VALUE_BYTES: String(256 * 1024),
            EVENTBUS_MAX_REQUEST_BYTES: '6000000',
          }),
        },
      });
    }
    synthesized.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(synthesized.allows(bus.apiFunction, 'secretsmanager:GetSecretValue', secretArn)).toBe(true);
  });

  test('THEN the api logs every request', () => {
    synthesized.only(bus.apiFunction).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [SETTINGS.accessLog.env]: 'true' }) },
    });
  });

  test('THEN function logs are kept for the given days', () => {
    synthesized.template.resourcePropertiesCountIs(
      'AWS::Logs::LogGroup',
      { RetentionInDays: 7 },
      functions.length,
    );
  });
});

describe('EventBusStack with publish limits', () => {
  test('THEN the limits given to the stack reach the functions (they were dropped before)', () => {
    // GIVEN a stack with its own publish limits WHEN it is synthesized
    const stack = new EventBusStack(unbundledApp(), 'Limits', { publishLimits: { maxEvents: 250 } });
    // THEN the api function runs with them
    new Synthesized(stack).only(stack.bus.apiFunction).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ EVENTBUS_MAX_EVENTS: '250' }) },
    });
  });
});

describe('EventBus props validation', () => {
  const build = (props: EventBusProps) => () =>
    new EventBus(new Stack(unbundledApp(), 'Validation'), 'Bus', props);

  test.each([0, -1, 350_001, 1.5, Number.NaN])(
    'fails when inlineThresholdBytes is %p',
    (inlineThresholdBytes) => {
      // GIVEN a threshold outside 1..350000 WHEN the bus is built THEN it is refused
      expect(build({ inlineThresholdBytes })).toThrow(
        /inlineThresholdBytes must be an integer in 1\.\.350000/,
      );
    },
  );

  test.each([1, 0, 2.5])('fails when maxRetentionDays is %p', (maxRetentionDays) => {
    // GIVEN a lifecycle shorter than the 24 h retention floor allows WHEN the bus is built THEN it is refused
    expect(build({ maxRetentionDays })).toThrow(/maxRetentionDays must be an integer of at least 2/);
  });

  test.each([0, 8, 31])(
    'fails when logRetentionDays is %p, not a CloudWatch retention',
    (logRetentionDays) => {
      expect(build({ logRetentionDays })).toThrow(/logRetentionDays must be one of/);
    },
  );

  test.each([
    [{ maxRequestBytes: 7 * 1024 * 1024 }, /maxRequestBytes may be at most/],
    [{ maxEvents: 0 }, /maxEvents must be a positive integer/],
    [
      { maxValueBytes: 5_000_000, maxRequestBytes: 1_000_000 },
      /maxValueBytes may not exceed maxRequestBytes/,
    ],
  ])('fails when publishLimits are %p', (publishLimits, message) => {
    expect(build({ publishLimits })).toThrow(message);
  });

  test('GIVEN the boundary values WHEN the bus is built THEN they are accepted', () => {
    expect(build({ inlineThresholdBytes: 1, maxRetentionDays: 2, logRetentionDays: 1 })).not.toThrow();
    expect(build({ inlineThresholdBytes: 350_000 })).not.toThrow();
  });
});

describe('EventBus with a declared topic', () => {
  test("THEN the registrar's role grants exactly the access its topology declares", () => {
    // GIVEN a bus with a topic declared in code, which brings the registrar
    const stack = new Stack(unbundledApp(), 'Declared');
    const bus = new EventBus(stack, 'Bus');
    bus.addTopic('orders', { partitions: 2 });
    // WHEN it is synthesized
    const synthesized = new Synthesized(stack);
    // THEN the registrar may do what the topology says, no more
    const registrar = bus.node.findChild(registrarFunction.id) as NodejsFunction;
    expect(observedAccess(synthesized, bus, registrar)).toEqual(registrarFunction.access);
  });
});
