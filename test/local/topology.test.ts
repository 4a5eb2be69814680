import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { EventBus } from '../../infra/eventbus';
import { functionEnvironment } from '../../local/function-environment';
import { tableNames } from '../../local/provision';
import { type LocalBus, type LocalTrigger, startLocalBus } from '../../local/runtime';
import { functions, segmentBucket, tables } from '../../shared/topology';

// Local mode and a deployment are built from one topology: this proves they agree, table by table and
// trigger by trigger, by comparing what local mode created and wired with what the stack synthesizes.

function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

interface TableShape {
  keys: string[];
  attributes: Record<string, string>;
  indexes: { name: string; keys: string[]; projection: string }[];
  stream: string | undefined;
  ttl: string | undefined;
}

const keysOf = (schema: { AttributeName?: string; KeyType?: string }[] = []) =>
  schema.map((key) => `${key.KeyType}:${key.AttributeName}`);

describe('local mode and the synthesized stack', () => {
  let local: LocalBus;
  let dataDir: string;
  const env: NodeJS.ProcessEnv = { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' };
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Topology');
  const bus = new EventBus(stack, 'Bus');
  const template = Template.fromStack(stack).toJSON();

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'eventbus-topology-'));
    // GIVEN local mode on the test run's emulators (its tables are made from the same definitions)
    local = await startLocalBus({ dataDir, port: 0, env, log: () => {} });
  }, 60_000);
  afterAll(async () => {
    await local?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test.each(tables.map((def) => [def.id, def] as const))(
    'THEN the %s table has the same keys, indexes, stream and TTL in both',
    async (id, def) => {
      const dynamo = new DynamoDBClient({});
      const name = env[def.envVar] as string;
      const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: name }));
      const { TimeToLiveDescription } = await dynamo.send(new DescribeTimeToLiveCommand({ TableName: name }));
      const localShape: TableShape = {
        keys: keysOf(Table?.KeySchema),
        attributes: Object.fromEntries(
          (Table?.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]),
        ) as Record<string, string>,
        indexes: (Table?.GlobalSecondaryIndexes ?? []).map((index) => ({
          name: index.IndexName as string,
          keys: keysOf(index.KeySchema),
          projection: index.Projection?.ProjectionType as string,
        })),
        stream: Table?.StreamSpecification?.StreamEnabled
          ? Table.StreamSpecification.StreamViewType
          : undefined,
        ttl:
          TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED'
            ? TimeToLiveDescription.AttributeName
            : undefined,
      };
      const table = { Log: bus.logTable, Groups: bus.groupsTable, Registry: bus.registryTable }[
        id
      ] as IConstruct;
      const deployed = template.Resources[logicalId(table)].Properties;
      const deployedShape: TableShape = {
        keys: keysOf(deployed.KeySchema),
        attributes: Object.fromEntries(
          deployed.AttributeDefinitions.map((a: { AttributeName: string; AttributeType: string }) => [
            a.AttributeName,
            a.AttributeType,
          ]),
        ),
        indexes: (deployed.GlobalSecondaryIndexes ?? []).map(
          (index: { IndexName: string; KeySchema: []; Projection: { ProjectionType: string } }) => ({
            name: index.IndexName,
            keys: keysOf(index.KeySchema),
            projection: index.Projection.ProjectionType,
          }),
        ),
        stream: deployed.StreamSpecification?.StreamViewType,
        ttl: deployed.TimeToLiveSpecification?.Enabled
          ? deployed.TimeToLiveSpecification.AttributeName
          : undefined,
      };
      expect(localShape).toEqual(deployedShape);
    },
  );

  test.each(functions.map((def) => [def.id, def] as const))(
    'THEN the %s function learns the same tables and bucket in both',
    (_id, def) => {
      const resources = [...tables.map((table) => table.envVar), segmentBucket.envVar];
      const names = (variables: Record<string, unknown>) =>
        Object.keys(variables)
          .filter((name) => resources.includes(name))
          .sort();
      const fn = {
        Api: bus.apiFunction,
        Dispatcher: bus.dispatcherFunction,
        Deliverer: bus.delivererFunction,
        Sweeper: bus.sweeperFunction,
      }[def.id] as IConstruct;
      const deployed = template.Resources[logicalId(fn)].Properties.Environment.Variables;
      const local = functionEnvironment([def], { ...tableNames(), AWS_REGION: 'local' });
      expect(names(local)).toEqual(names(deployed));
      expect(local.AWS_REGION).toBe('local');
    },
  );

  test('THEN the same functions run behind the same kinds of trigger', () => {
    const functionIds = new Map<string, string>(
      [bus.apiFunction, bus.dispatcherFunction, bus.delivererFunction, bus.sweeperFunction].map((fn) => [
        logicalId(fn),
        fn.node.id,
      ]),
    );
    const resources = Object.values(template.Resources) as { Type: string; Properties: any }[];
    const refOf = (value: any): string | undefined => value?.Ref ?? value?.['Fn::GetAtt']?.[0];
    const deployed: LocalTrigger[] = [];
    for (const resource of resources) {
      if (resource.Type === 'AWS::Lambda::Url') {
        deployed.push({
          function: functionIds.get(refOf(resource.Properties.TargetFunctionArn) as string) as string,
          trigger: 'url',
        });
      } else if (
        resource.Type === 'AWS::Lambda::EventSourceMapping' &&
        refOf(resource.Properties.EventSourceArn) === logicalId(bus.leaseWakes)
      ) {
        // Lease wakes: locally an in-process delay queue hands them to the same handler.
        deployed.push({
          function: functionIds.get(refOf(resource.Properties.FunctionName) as string) as string,
          trigger: 'queue',
        });
      } else if (resource.Type === 'AWS::Lambda::EventSourceMapping') {
        const source = refOf(resource.Properties.EventSourceArn) as string;
        deployed.push({
          function: functionIds.get(refOf(resource.Properties.FunctionName) as string) as string,
          trigger: 'stream',
          table: source === logicalId(bus.logTable) ? 'Log' : source,
          batchSize: resource.Properties.BatchSize,
          eventNames: JSON.parse(resource.Properties.FilterCriteria.Filters[0].Pattern).eventName,
        });
      } else if (resource.Type === 'AWS::Events::Rule') {
        for (const target of resource.Properties.Targets) {
          const fn = functionIds.get(refOf(target.Arn) as string);
          if (fn) deployed.push({ function: fn, trigger: 'schedule' });
        }
      } else if (resource.Type === 'AWS::Lambda::EventInvokeConfig') {
        // Invoked asynchronously by the bus itself: locally through the Lambda Invoke API.
        deployed.push({
          function: functionIds.get(refOf(resource.Properties.FunctionName) as string) as string,
          trigger: 'invoke',
        });
      }
    }
    const order = (triggers: readonly LocalTrigger[]) => [...triggers].map((t) => JSON.stringify(t)).sort();
    expect(order(local.triggers)).toEqual(order(deployed));
  });
});
