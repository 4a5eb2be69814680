import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

/** Prints what a browser downloads for the whole page, gzipped: the figure the 150 KB goal is about. */
function reportPageSize(): Plugin {
  return {
    name: 'eventbus-console-size',
    apply: 'build',
    closeBundle() {
      const dist = fileURLToPath(new URL('dist', import.meta.url));
      const files = readdirSync(dist, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
      const gzipped = files.reduce(
        (sum, f) => sum + gzipSync(readFileSync(path.join(f.parentPath, f.name))).length,
        0,
      );
      console.log(
        `console: ${files.length} files, ${(gzipped / 1024).toFixed(1)} KB gzipped for the whole page`,
      );
    },
  };
}

/** The console's build: served by the API at /console, hashed assets under /console/assets/. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  plugins: [reportPageSize()],
  resolve: {
    // The typed client imports randomUUID from node:crypto; the browser has it on globalThis.crypto.
    alias: { 'node:crypto': fileURLToPath(new URL('src/node-crypto.ts', import.meta.url)) },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No inline polyfill script: the Content-Security-Policy allows none.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
});
