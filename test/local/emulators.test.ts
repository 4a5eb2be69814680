import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createEmulatorClients, type Emulators, startEmulators } from '../../local/emulators';
import { provision, tableNames } from '../../local/provision';
import { logTable, segmentBucket } from '../../shared/topology';

describe('local emulators', () => {
  const names = tableNames('persist');
  const logName = names[logTable.envVar];
  const bucket = names[segmentBucket.envVar];
  let dataDir: string;
  let emulators: Emulators | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'eventbus-emulators-'));
  });

  afterAll(async () => {
    await emulators?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function start(): Promise<ReturnType<typeof createEmulatorClients>> {
    emulators = await startEmulators({ dataDir });
    return createEmulatorClients(emulators);
  }

  it('keeps tables, items and objects across a restart on the same data directory', async () => {
    // GIVEN provisioned emulators holding an item and an object
    let clients = await start();
    await provision(clients, names);
    await clients.dynamo.send(
      new PutItemCommand({
        TableName: logName,
        Item: { pk: { S: 'orders#0' }, sk: { N: '0' }, maxTs: { N: '7' } },
      }),
    );
    await clients.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'segments/orders/0', Body: 'segment bytes' }),
    );

    // WHEN they are stopped and started again on the same directory
    await emulators?.stop();
    clients = await start();

    // THEN both are still there, with the table as defined
    const item = await clients.dynamo.send(
      new GetItemCommand({ TableName: logName, Key: { pk: { S: 'orders#0' }, sk: { N: '0' } } }),
    );
    expect(item.Item?.maxTs).toEqual({ N: '7' });
    const object = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'segments/orders/0' }));
    expect(await object.Body?.transformToString()).toBe('segment bytes');
    const table = (await clients.dynamo.send(new DescribeTableCommand({ TableName: logName }))).Table;
    expect(table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' });
    expect(table?.GlobalSecondaryIndexes?.map((index) => index.IndexName)).toEqual(['byMaxTs']);
  });

  it('provisions idempotently, also when callers race to create', async () => {
    // GIVEN running emulators and names nothing exists for yet
    const clients = emulators ? createEmulatorClients(emulators) : await start();
    const fresh = tableNames('idempotent');

    // WHEN two callers provision at once, an item is written, and provision runs again
    await Promise.all([provision(clients, fresh), provision(clients, fresh)]);
    await clients.dynamo.send(
      new PutItemCommand({
        TableName: fresh[logTable.envVar],
        Item: { pk: { S: 'orders#0' }, sk: { N: '0' } },
      }),
    );
    await provision(clients, fresh);

    // THEN the item is untouched and TTL is on
    const item = await clients.dynamo.send(
      new GetItemCommand({
        TableName: fresh[logTable.envVar],
        Key: { pk: { S: 'orders#0' }, sk: { N: '0' } },
      }),
    );
    expect(item.Item).toBeDefined();
    const ttl = await clients.dynamo.send(
      new DescribeTimeToLiveCommand({ TableName: fresh[logTable.envVar] }),
    );
    expect(ttl.TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
  });

  it("listens on loopback only: from the machine's own network address, every emulator port refuses", async () => {
    const clients = emulators ? createEmulatorClients(emulators) : await start();
    clients.dynamo.destroy();
    const running = emulators as Emulators;
    const ports = [running.dynamoEndpoint, running.s3Endpoint].map((endpoint) =>
      Number(new URL(endpoint).port),
    );
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && !address.internal && address.family === 'IPv4')?.address;
    // A machine with no network address has nothing to expose; say so rather than pass silently.
    if (!external) throw new Error('This machine has no non-loopback IPv4 address to test from.');
    for (const port of ports) {
      expect({ port, loopback: await connects('127.0.0.1', port) }).toEqual({ port, loopback: true });
      expect({ port, external: await connects(external, port) }).toEqual({ port, external: false });
    }
  });
});

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
