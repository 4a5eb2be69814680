import * as path from 'node:path';
import type { ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';

/** This package's root: the console is built from, and copied out of, its own `console/` folder. */
const PACKAGE_ROOT = path.resolve(__dirname, '..');

/** The folder beside the API function's `index.js` the console is served from (functions/api/console.ts). */
export const CONSOLE_ASSETS = 'console-assets';

/** Builds the console if needed (console/ensure-built.cjs) and copies it into `outputDir`'s {@link CONSOLE_ASSETS}. */
export function consoleCommands(outputDir: string): string[] {
  return [
    `node "${path.join(PACKAGE_ROOT, 'console', 'ensure-built.cjs')}"`,
    `cp -R "${path.join(PACKAGE_ROOT, 'console', 'dist')}" "${path.join(outputDir, CONSOLE_ASSETS)}"`,
  ];
}

/**
 * Puts the built web console next to the API function's bundle (`console-assets/`), building it first
 * if needed. The assets are files beside `index.js`, not code in it: a publish's cold start never
 * loads them, and `/console` reads them on its first request.
 */
export const consoleBundling: ICommandHooks = {
  beforeBundling: () => [],
  beforeInstall: () => [],
  afterBundling: (_inputDir: string, outputDir: string) => consoleCommands(outputDir),
};
