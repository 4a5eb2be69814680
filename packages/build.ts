/**
 * Builds the packages users install (packages/*): each one's JavaScript with
 * esbuild — ESM and CommonJS for the client and the consumer, CommonJS and
 * the bundled functions for the construct — and its `.d.ts` files with tsc.
 * The protocol (protocol/) is bundled into each, so none depends on this
 * repository or on another package of it. The construct's `.d.ts` files are
 * those its entry reaches, all of them in infra/: a type of shared/ in its
 * public signatures fails the build (the construct writes such types out).
 *
 *   npm run build:packages [client consumer cdk]
 */
import { execFileSync, execSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import { consoleCommands } from '../infra/console-bundling';
import { FUNCTION_BUNDLING } from '../infra/eventbus';
import { apiFunction, functions, registrarFunction } from '../shared/topology';

const root = path.resolve(__dirname, '..');

interface PackageBuild {
  /** The module users import, from the repository's root. */
  readonly entry: string;
  /** What stays an import: the package's dependencies and peer dependencies. */
  readonly external: readonly string[];
  readonly platform: BuildOptions['platform'];
  readonly formats: readonly ('esm' | 'cjs')[];
  /** Also bundles the functions the construct deploys. */
  readonly functions?: boolean;
}

const PACKAGES: Record<string, PackageBuild> = {
  client: { entry: 'client/index.ts', external: [], platform: 'neutral', formats: ['esm', 'cjs'] },
  consumer: {
    entry: 'consumer/index.ts',
    external: ['@middy/core', '@aws-lambda-powertools/*', '@aws-sdk/*'],
    platform: 'node',
    formats: ['esm', 'cjs'],
  },
  cdk: {
    entry: 'infra/eventbus.ts',
    external: ['aws-cdk-lib', 'constructs'],
    platform: 'node',
    formats: ['cjs'],
    functions: true,
  },
};

async function buildPackage(name: string): Promise<void> {
  const spec = PACKAGES[name];
  if (!spec) throw new Error(`no package "${name}"; the packages are ${Object.keys(PACKAGES).join(', ')}`);
  const dir = path.join(root, 'packages', name);
  const dist = path.join(dir, 'dist');
  rmSync(dist, { recursive: true, force: true });
  for (const format of spec.formats) {
    await build({
      entryPoints: [path.join(root, spec.entry)],
      outfile: path.join(dist, format === 'esm' ? 'index.mjs' : 'index.cjs'),
      bundle: true,
      format,
      platform: spec.platform,
      target: 'es2022',
      // `neutral` resolves no `main` fields by default; the client has no dependencies to resolve.
      mainFields: spec.platform === 'neutral' ? ['module', 'main'] : undefined,
      external: [...spec.external],
      // The construct's own code runs at synthesis only: its map would double the package for little.
      sourcemap: !spec.functions,
      logLevel: 'warning',
    });
  }
  if (spec.functions) await buildFunctions(path.join(dist, 'functions'));
  // Declarations only: tsc writes dist/types/<entry's folder>/…, the protocol's beside it.
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', path.join(dir, 'tsconfig.json')],
    {
      stdio: 'inherit',
    },
  );
  if (spec.functions) keepPublicDeclarations(path.join(dist, 'types'), spec.entry);
}

/**
 * Keeps the `.d.ts` files the entry's reaches through relative imports and deletes the others (tsc writes
 * one for every module the construct's code imports). Throws when one it reaches is outside the entry's
 * folder: the package's types would name the repository's internals.
 */
function keepPublicDeclarations(typesDir: string, entry: string): void {
  const publicDir = path.join(typesDir, path.dirname(entry));
  const reached = new Set<string>();
  const queue = [path.join(typesDir, entry.replace(/\.ts$/, '.d.ts'))];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (reached.has(file)) continue;
    if (path.dirname(file) !== publicDir) {
      throw new Error(
        `${path.relative(typesDir, file)} is in the construct's public types; write the type out in ${path.dirname(entry)}/.`,
      );
    }
    reached.add(file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      queue.push(path.resolve(path.dirname(file), `${specifier}.d.ts`));
    }
  }
  for (const entryName of readdirSync(typesDir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entryName.parentPath, entryName.name);
    if (entryName.isFile() && !reached.has(file)) rmSync(file);
  }
  for (const name of readdirSync(typesDir)) {
    if (path.join(typesDir, name) !== publicDir) rmSync(path.join(typesDir, name), { recursive: true });
  }
}

/** Each function the construct deploys, bundled as NodejsFunction bundles it in this repository. */
async function buildFunctions(outdir: string): Promise<void> {
  for (const def of [...functions, registrarFunction]) {
    await build({
      entryPoints: [path.join(root, def.entry)],
      outfile: path.join(outdir, def.id, 'index.js'),
      bundle: true,
      platform: 'node',
      format: FUNCTION_BUNDLING.format,
      target: FUNCTION_BUNDLING.target,
      minify: FUNCTION_BUNDLING.minify,
      sourcemap: FUNCTION_BUNDLING.sourceMap,
      external: [...FUNCTION_BUNDLING.externalModules],
      logLevel: 'warning',
    });
  }
  // The web console beside the API's bundle, as NodejsFunction's bundling puts it there in this repository.
  for (const command of consoleCommands(path.join(outdir, apiFunction.id))) {
    execSync(command, { stdio: 'inherit' });
  }
}

async function main(names: readonly string[]): Promise<void> {
  for (const name of names.length > 0 ? names : Object.keys(PACKAGES)) await buildPackage(name);
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
