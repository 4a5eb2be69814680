/**
 * Node's arguments for running the local bus, as `npm start` does (keep the
 * two in step):
 * - `--require tsx/cjs` runs this repository's TypeScript through tsx's
 *   CommonJS hook on the main thread; its ESM loader (`--import tsx`) would
 *   add a thread and V8 heap of its own, about 40 MB of RSS on Node 20.
 * - `--max-semi-space-size=4` caps V8's young generation at 3 × 4 MB: under
 *   load the default (16 MB semispaces) grows RSS by some 20 MB with no gain
 *   in throughput the benchmark could see (docs/benchmarks.md).
 */
export const LOCAL_NODE_ARGS = ['--max-semi-space-size=4', '--require', 'tsx/cjs'] as const;
