/**
 * Node's arguments for running the local bus, as `npm start` does (keep the
 * two in step): `--require tsx/cjs` runs this repository's TypeScript through
 * tsx's CommonJS hook on the main thread; its ESM loader (`--import tsx`)
 * would add a thread and V8 heap of its own, about 40 MB of RSS on Node 20.
 */
export const LOCAL_NODE_ARGS = ['--require', 'tsx/cjs'] as const;
