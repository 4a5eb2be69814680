import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(__dirname, '../../..');

/** Runs codegen as the CLI does, in plain Node: its formatter loads by dynamic import, which jest's sandbox lacks. */
function typesForSchema(topic: string, version: number, schema: unknown): string {
  const script = `require('./shared/schemas/codegen').typesForSchema(${JSON.stringify(topic)}, ${version}, ${JSON.stringify(schema)}).then((t) => process.stdout.write(t))`;
  return execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
    cwd: root,
    encoding: 'utf8',
  });
}

const orders = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    total: { type: 'number', minimum: 0 },
    status: { enum: ['new', 'paid'] },
    items: { type: 'array', items: { $ref: '#/$defs/item' } },
  },
  required: ['id', 'status'],
  additionalProperties: false,
  $defs: { item: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] } },
};

/** Type-checks files under `tsc --strict`, written to a scratch folder; the diagnostics' messages, each after its file's name. */
function typeCheck(files: Record<string, string>, withNode = false): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'codegen-'));
  const names = Object.entries(files).map(([name, text]) => {
    writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  });
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    // A producer or consumer imports the client or consumer, whose SDK dependencies need Node's types.
    types: withNode ? ['node'] : [],
    typeRoots: [path.join(root, 'node_modules/@types')],
    skipLibCheck: withNode,
  };
  const program = ts.createProgram(names, options);
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) =>
        `${path.basename(d.file?.fileName ?? '')}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
    );
}

describe('codegen', () => {
  it('writes types that accept valid events and refuse invalid ones at compile time', () => {
    const types = typesForSchema('orders.created', 2, orders);
    expect(types).toContain('schema version 2');
    expect(types).toContain('export interface OrdersCreated');
    const diagnostics = typeCheck({
      'orders.ts': types,
      'producer.ts': [
        "import type { OrdersCreated } from './orders';",
        "export const ok: OrdersCreated = { id: 'o-1', status: 'paid', items: [{ sku: 'a' }] };",
        "// @ts-expect-error status must be one of the schema's values",
        "export const badStatus: OrdersCreated = { id: 'o-1', status: 'lost' };",
        '// @ts-expect-error id is required',
        "export const missingId: OrdersCreated = { status: 'new' };",
        '// @ts-expect-error the schema is closed',
        "export const extra: OrdersCreated = { id: 'o-1', status: 'new', note: 'x' };",
        'export function consume(event: OrdersCreated): number { return event.total ?? 0; }',
      ].join('\n'),
    });
    expect(diagnostics).toEqual([]);
  });

  it('types a member the schema only describes as any value, not as an object', () => {
    const types = typesForSchema('notes', 1, {
      type: 'object',
      properties: {
        note: { description: 'free text, any JSON' },
        tags: { type: 'array', items: { title: 'a tag' } },
      },
    });
    const diagnostics = typeCheck({
      'notes.ts': types,
      'producer.ts': [
        "import type { Notes } from './notes';",
        "export const text: Notes = { note: 'hi', tags: ['a', 1] };",
        'export const number: Notes = { note: 42, tags: [{ any: true }] };',
      ].join('\n'),
    });
    expect(diagnostics).toEqual([]);
  });

  it("types check a producer's sends and a consumer's handler through the client's and consumer's generics", () => {
    // GIVEN the types of a topic's schema, and a producer and a consumer written against them
    const types = typesForSchema('orders.created', 2, orders);
    const client = JSON.stringify(path.join(root, 'client'));
    const consumer = JSON.stringify(path.join(root, 'consumer'));
    const producer = [
      `import { EventBusClient, Producer } from ${client};`,
      "import type { OrdersCreated } from './orders';",
      "const bus = new EventBusClient({ url: 'http://127.0.0.1:4000' });",
      'const producer = new Producer(bus);',
      'export async function placeOrders(): Promise<number> {',
      "  await producer.send<OrdersCreated>('orders.created', { key: 'o-1', value: { id: 'o-1', status: 'new' } });",
      "  await bus.publish<OrdersCreated>('orders.created', [{ value: { id: 'o-2', status: 'paid', items: [{ sku: 'a' }] } }]);",
      '  let total = 0;',
      "  for await (const { value } of bus.read<OrdersCreated>('orders.created', 0)) total += value.total ?? 0;",
      '  // Untyped callers compile as before: values are any JSON.',
      "  await bus.publish('misc', [{ value: { anything: [1, 'two', null] } }]);",
      "  await producer.send('misc', { value: 'text' });",
      '  return total;',
      '}',
    ].join('\n');
    const handler = [
      `import { createConsumer, eventbusConsumer } from ${consumer};`,
      "import type { OrdersCreated } from './orders';",
      'export const handler = createConsumer<OrdersCreated>(async (event) => {',
      "  const status: 'new' | 'paid' = event.value.status;",
      "  return event.value.id + ': ' + status + ', ' + (event.value.items?.length ?? 0) + ' item(s)';",
      '});',
      'export const middleware = eventbusConsumer<OrdersCreated>({ processEvent: ({ value }) => value.id.length });',
      'export const untyped = createConsumer(async (event) => JSON.stringify(event.value));',
    ].join('\n');

    // WHEN they are type-checked, THEN they compile
    expect(typeCheck({ 'orders.ts': types, 'producer.ts': producer, 'handler.ts': handler }, true)).toEqual(
      [],
    );

    // AND a send whose value breaks the schema, or a handler reading what the schema has not, does not
    const wrong = typeCheck(
      {
        'orders.ts': types,
        'wrong-send.ts': [
          `import { EventBusClient, Producer } from ${client};`,
          "import type { OrdersCreated } from './orders';",
          "const producer = new Producer(new EventBusClient({ url: 'http://127.0.0.1:4000' }));",
          "producer.send<OrdersCreated>('orders.created', { value: { id: 'o-1', status: 'lost' } });",
          "new EventBusClient({ url: 'http://127.0.0.1:4000' }).publish<OrdersCreated>('orders.created', [{ value: { status: 'new' } }]);",
        ].join('\n'),
        'wrong-handler.ts': [
          `import { createConsumer } from ${consumer};`,
          "import type { OrdersCreated } from './orders';",
          'export const handler = createConsumer<OrdersCreated>(async (event) => event.value.total.toFixed(2));',
        ].join('\n'),
      },
      true,
    );
    expect([...wrong].sort()).toEqual([
      expect.stringMatching(/^wrong-handler\.ts: 'event\.value\.total' is possibly 'undefined'/),
      expect.stringMatching(/^wrong-send\.ts: Property 'id' is missing in type '\{ status: "new"; \}'/),
      expect.stringMatching(/^wrong-send\.ts: Type '"lost"' is not assignable to type '"new" \| "paid"'/),
    ]);
  }, 60_000);

  it('names types after topics', () => {
    expect(typesForSchema('billing.invoice-paid', 1, { type: 'string' })).toContain(
      'export type BillingInvoicePaid = string',
    );
    expect(typesForSchema('3d-prints', 1, { type: 'number' })).toContain(
      'export type Topic3DPrints = number',
    );
  });
});
