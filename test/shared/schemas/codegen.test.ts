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

/** Type-checks files under `tsc --strict`, written to a scratch folder; the diagnostics' messages. */
function typeCheck(files: Record<string, string>): string[] {
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
    types: [],
  };
  const program = ts.createProgram(names, options);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
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

  it('names types after topics', () => {
    expect(typesForSchema('billing.invoice-paid', 1, { type: 'string' })).toContain(
      'export type BillingInvoicePaid = string',
    );
    expect(typesForSchema('3d-prints', 1, { type: 'number' })).toContain(
      'export type Topic3DPrints = number',
    );
  });
});
