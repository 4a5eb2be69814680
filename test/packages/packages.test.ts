import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/*
 * What a user of each package gets: the package is built and packed, the tarball installed into an empty
 * project outside this repository (its peer dependencies at this repository's versions, from the npm
 * cache where it has them), and used from plain Node (ESM and CommonJS) and from TypeScript under
 * `--strict`; the construct from a CDK app of the user's own.
 */

const root = path.resolve(__dirname, '../..');
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
let scratch: string;
const tarballs: Record<string, string> = {};

function run(command: string, args: readonly string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

/** The version of `name` this repository installed: the peer a user would pair with the package. */
function repoVersion(name: string): string {
  return `${name}@${JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version}`;
}

/** An empty project (in the system's temp folder, so no node_modules of the repository is above it) with `packages` installed. */
function project(name: string, packages: readonly string[], files: Record<string, string>): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `scratch-${name}`, private: true }));
  run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...packages],
    dir,
  );
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text);
  return dir;
}

beforeAll(() => {
  // GIVEN each package built and packed as `npm publish` would
  run(process.execPath, [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'packages/build.ts'], root);
  scratch = mkdtempSync(path.join(os.tmpdir(), 'eventbus-packages-'));
  for (const name of ['client', 'consumer', 'cdk']) {
    const [packed] = JSON.parse(
      run('npm', ['pack', '--json', '--pack-destination', scratch], path.join(root, 'packages', name)),
    ) as { filename: string }[];
    tarballs[name] = path.join(scratch, packed.filename);
  }
}, 600_000);
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** A bus as API.md describes it, for what the client sends: publish answers with positions, or TOPIC_NOT_FOUND. */
const FAKE_BUS = `
import http from 'node:http';
export function startBus() {
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const known = request.url === '/topics/orders/events' && request.headers.authorization === 'Bearer eb_test';
      const answer = known
        ? { results: JSON.parse(body).events.map((_, i) => ({ partition: 0, offset: 7 + i })) }
        : { error: { code: 'TOPIC_NOT_FOUND', message: 'Topic "' + request.url + '" does not exist.' } };
      response.writeHead(known ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
`;

const CLIENT_USE = (load: string) => `
${load}
(async () => {
  const server = await startBus();
  const bus = new EventBusClient({ url: 'http://127.0.0.1:' + server.address().port, key: 'eb_test' });
  const positions = await bus.publish('orders', [{ key: 'order-1', value: { total: 42 } }, { value: 'two' }]);
  const failure = await bus.publish('missing', [{ value: 1 }]).catch((error) => error);
  server.close();
  console.log(JSON.stringify({
    positions,
    failure: { notFound: failure instanceof TopicNotFoundError, code: failure.code },
    partition: partitionForKey('order-1', 6),
  }));
})();
`;

describe('@eventbus/client', () => {
  let dir: string;
  beforeAll(() => {
    dir = project('client', [tarballs.client], {
      'bus.mjs': FAKE_BUS,
      'bus.cjs': FAKE_BUS.replace(
        "import http from 'node:http';",
        "const http = require('node:http');",
      ).replace('export function startBus', 'module.exports.startBus = function startBus'),
      'use.mjs': CLIENT_USE(
        "import { EventBusClient, TopicNotFoundError, partitionForKey } from '@eventbus/client';\nimport { startBus } from './bus.mjs';",
      ),
      'use.cjs': CLIENT_USE(
        "const { EventBusClient, TopicNotFoundError, partitionForKey } = require('@eventbus/client');\nconst { startBus } = require('./bus.cjs');",
      ),
      'tsconfig.json': JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'nodenext',
          target: 'es2022',
          lib: ['es2022', 'dom'],
          noEmit: true,
        },
      }),
      'use.mts': `
import { type ErrorCode, ERROR_CODES, EventBusClient, EventBusError, type EventPosition, type TopicSummary } from '@eventbus/client';
const bus = new EventBusClient({ url: 'https://bus.example', key: 'eb_test' });
export async function publishOrder(total: number): Promise<EventPosition> {
  const [position] = await bus.publish('orders', [{ key: 'order-1', value: { total } }]);
  return position;
}
export async function topics(): Promise<readonly TopicSummary[]> {
  try {
    return await bus.listTopics();
  } catch (error) {
    const known: readonly ErrorCode[] = ERROR_CODES;
    if (error instanceof EventBusError && known.includes(error.code as ErrorCode)) return [];
    throw error;
  }
}
`,
    });
  }, 300_000);

  test.each(['use.mjs', 'use.cjs'])(
    'THEN %s publishes to a bus and reads its errors, in plain Node',
    (file) => {
      // WHEN a user's script publishes two events and then to a topic the bus does not have
      const output = JSON.parse(run(process.execPath, [file], dir));
      // THEN it gets the positions the bus answered, and the error as its class and code
      expect(output).toEqual({
        positions: [
          { partition: 0, offset: 7 },
          { partition: 0, offset: 8 },
        ],
        failure: { notFound: true, code: 'TOPIC_NOT_FOUND' },
        partition: expect.any(Number),
      });
    },
  );

  test('THEN a TypeScript project uses its types under --strict', () => {
    expect(run(process.execPath, [tsc, '-p', dir], dir)).toBe('');
  });

  test('THEN it installs nothing besides itself', () => {
    expect(readdirSync(path.join(dir, 'node_modules')).filter((name) => !name.startsWith('.'))).toEqual([
      '@eventbus',
    ]);
  });
});

const CONSUMER_USE = (load: string) => `
${load}
const handler = createConsumer(async (event) => {
  if (event.value.total < 0) throw new Error('cannot bill a negative total');
  billed.push({ id: event.id, offset: event.offset });
});
const billed = [];
const batch = {
  group: 'billing',
  topic: 'orders',
  partition: 2,
  events: [10, 11, 12].map((offset) => ({
    offset,
    timestamp: new Date(0).toISOString(),
    key: null,
    value: { total: offset === 11 ? -1 : offset },
    headers: {},
  })),
};
handler(batch, { getRemainingTimeInMillis: () => 30000, awsRequestId: 'r' }).then((response) =>
  console.log(JSON.stringify({ response, billed })),
);
`;

describe('@eventbus/consumer', () => {
  let dir: string;
  beforeAll(() => {
    dir = project(
      'consumer',
      [
        tarballs.consumer,
        repoVersion('@middy/core'),
        repoVersion('@aws-lambda-powertools/idempotency'),
        // What the Lambda runtime provides: Powertools' DynamoDB store loads it.
        repoVersion('@aws-sdk/client-dynamodb'),
        repoVersion('@aws-sdk/lib-dynamodb'),
        // A Lambda function's TypeScript project has Node's types (middy's and aws-lambda's need them).
        repoVersion('@types/node'),
      ],
      {
        'use.mjs': CONSUMER_USE("import { createConsumer } from '@eventbus/consumer';"),
        'use.cjs': CONSUMER_USE("const { createConsumer } = require('@eventbus/consumer');"),
        'tsconfig.json': JSON.stringify({
          compilerOptions: {
            strict: true,
            module: 'nodenext',
            target: 'es2022',
            lib: ['es2022'],
            noEmit: true,
          },
        }),
        'handler.mts': `
import middy from '@middy/core';
import { type ConsumedEvent, type DeliveryBatch, eventbusConsumer } from '@eventbus/consumer';
interface Order { readonly total: number }
export const handler = middy<DeliveryBatch>()
  .use(eventbusConsumer({ processEvent: async (event: ConsumedEvent) => (event.value as Order).total }))
  .handler(async () => ({ batchItemFailures: [] }));
`,
      },
    );
  }, 300_000);

  test.each(['use.mjs', 'use.cjs'])(
    'THEN %s processes a delivery batch and reports the failed event',
    (file) => {
      // WHEN a batch whose second event fails is delivered to a handler made with createConsumer
      const output = JSON.parse(run(process.execPath, [file], dir));
      // THEN the first is processed, the failed one reported, and the one after it left for redelivery
      expect(output).toEqual({
        response: {
          batchItemFailures: [{ itemIdentifier: '11', error: 'Error: cannot bill a negative total' }],
        },
        billed: [{ id: 'billing:orders:2:10', offset: 10 }],
      });
    },
  );

  test('THEN a TypeScript project uses its types under --strict', () => {
    expect(run(process.execPath, [tsc, '-p', dir], dir)).toBe('');
  });
});

/** A user's CDK app in TypeScript: a topic with a schema, and a route into another topic. */
const CDK_APP = `
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { EventBus, type SchemaCompatibility, type TopicOptions } from '@eventbus/cdk';

const [outdir, consoleChoice] = process.argv.slice(2);
const app = new App({ outdir });
const stack = new Stack(app, 'Shop');
const bus = new EventBus(stack, 'Bus', { console: consoleChoice !== 'no-console' });
const compatibility: SchemaCompatibility = 'FULL';
const orderTopic: TopicOptions = {
  partitions: 3,
  schema: { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] },
  compatibility,
};
const orders = bus.addTopic('orders', orderTopic);
const bigOrders = bus.addTopic('big-orders', { partitions: 1, retention: Duration.days(2) });
bus.subscribe('big-orders-route', {
  topic: orders,
  target: bigOrders,
  targetKey: 'value.customer',
  filter: { value: { total: [{ numeric: ['>', 100] }] } },
  transform: { jsonata: '{"total": value.total}' },
});
const template = app.synth().getStackByName('Shop').template;
const resources = Object.values(template.Resources) as { Type: string; Properties: any }[];
const functions = resources.filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Handler === 'index.handler');
const declared = (type: string) => resources.filter((r) => r.Type === type).map((r) => JSON.parse(r.Properties.Declaration));
console.log(JSON.stringify({
  functions: functions.length,
  code: functions.every((f) => f.Properties.Code.S3Key),
  withConsole: readdirSync(outdir).filter((name) =>
    existsSync(path.join(outdir, name, 'console-assets', 'index.html')),
  ).length,
  topics: declared('Custom::EventBusTopic'),
  subscriptions: declared('Custom::EventBusSubscription'),
}));
`;

describe('@eventbus/cdk', () => {
  let dir: string;
  let compiled: string;
  beforeAll(() => {
    // GIVEN a CDK app of the user's in TypeScript, with the construct installed beside aws-cdk-lib and constructs
    dir = project(
      'cdk',
      [tarballs.cdk, repoVersion('aws-cdk-lib'), repoVersion('constructs'), repoVersion('@types/node')],
      {
        'shop.ts': CDK_APP,
        'tsconfig.json': JSON.stringify({
          compilerOptions: {
            strict: true,
            skipLibCheck: false,
            module: 'nodenext',
            target: 'es2022',
            lib: ['es2022'],
            types: ['node'],
            outDir: 'out',
          },
        }),
      },
    );
    // WHEN it is compiled (tsc fails the setup with its errors)
    compiled = run(process.execPath, [tsc, '-p', dir], dir);
  }, 300_000);

  test('THEN the app compiles against its types under --strict, its libraries checked too', () => {
    expect(compiled).toBe('');
  });

  test("THEN the package's types are the construct's own, naming none of the repository's modules", () => {
    const types = path.join(dir, 'node_modules/@eventbus/cdk/dist/types');
    const files = readdirSync(types, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(types, path.join(entry.parentPath, entry.name)));
    expect(files.sort()).toEqual(['infra/declarations.d.ts', 'infra/eventbus.d.ts', 'infra/monitoring.d.ts']);
    for (const file of files) {
      const imports = [...readFileSync(path.join(types, file), 'utf8').matchAll(/from '([^']+)'/g)].map(
        ([, specifier]) => specifier,
      );
      for (const specifier of imports)
        expect(specifier).toMatch(/^(aws-cdk-lib(\/.*)?|constructs|\.\/\w[\w-]*)$/);
    }
  });

  test('THEN the app synthesizes the prebuilt functions, the console beside the API, and the declared schema and route', () => {
    // WHEN the app runs (as `cdk synth` runs it)
    const output = JSON.parse(run(process.execPath, ['out/shop.js', 'cdk.out'], dir));
    // THEN the bus's five functions are in the template, their code the package's prebuilt bundles
    expect(output).toMatchObject({ functions: 5, code: true, withConsole: 1 });
    expect(output.topics).toContainEqual({
      kind: 'topic',
      topic: { name: 'orders', partitions: 3, retentionHours: 168 },
      schema: { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] },
      compatibility: 'FULL',
      removeOnDelete: false,
    });
    expect(output.subscriptions).toEqual([
      expect.objectContaining({
        group: 'big-orders-route',
        subscription: {
          topic: 'orders',
          target: { type: 'topic', topic: 'big-orders', key: 'value.customer' },
          filter: { value: { total: [{ numeric: ['>', 100] }] } },
          transform: { jsonata: '{"total": value.total}' },
        },
      }),
    ]);
  });

  test('THEN with console: false the API function ships without the console', () => {
    const output = JSON.parse(run(process.execPath, ['out/shop.js', 'cdk.out.quiet', 'no-console'], dir));
    expect(output).toMatchObject({ functions: 5, withConsole: 0 });
  });
});
