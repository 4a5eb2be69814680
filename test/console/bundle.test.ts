import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const { ensureConsoleBuilt } = require('../../console/ensure-built.cjs') as {
  ensureConsoleBuilt: () => boolean;
};

const ROOT = path.resolve(__dirname, '../..');
const DIST = path.join(ROOT, 'console/dist');

beforeAll(() => {
  if (!ensureConsoleBuilt()) throw new Error('the console could not be built (npm run build:console)');
}, 120_000);

function builtFiles(): { name: string; content: Buffer }[] {
  return readdirSync(DIST, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const file = path.join(entry.parentPath, entry.name);
      return { name: path.relative(DIST, file), content: readFileSync(file) };
    });
}

describe('the console bundle', () => {
  test('the whole page is under 150 KB gzipped', () => {
    const files = builtFiles();
    const gzipped = files.reduce((sum, file) => sum + gzipSync(file.content).length, 0);
    console.log(`console: ${files.map((f) => f.name).join(', ')}: ${(gzipped / 1024).toFixed(1)} KB gzipped`);
    expect(files.some((f) => f.name.endsWith('.js'))).toBe(true);
    expect(gzipped).toBeLessThan(150 * 1024);
  });

  test("the API function's bundle, built as the construct builds it, holds none of the console: a publish never loads it", async () => {
    const result = await build({
      entryPoints: [path.join(ROOT, 'functions/api/handler.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      external: ['@aws-sdk/*', '@smithy/*'],
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('functions/api/console.ts');
    expect(
      inputs.filter((input) => input.startsWith('console/') || input.includes('node_modules/preact')),
    ).toEqual([]);
    const bundle = result.outputFiles[0].text;
    const script = builtFiles().find((f) => f.name.endsWith('.js'));
    expect(bundle).not.toContain(script?.content.toString('utf8').slice(0, 200));
    console.log(
      `api bundle: ${(bundle.length / 1024).toFixed(0)} KB; console.ts adds ${result.metafile.outputs[Object.keys(result.metafile.outputs)[0]].inputs['functions/api/console.ts'].bytesInOutput} bytes`,
    );
  }, 120_000);
});
