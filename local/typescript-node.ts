/**
 * Node's arguments for running this repository's TypeScript directly, as
 * `npm start` does. tsx's CommonJS hook runs on the main thread; its ESM
 * loader (`--import tsx`) would add a thread and V8 heap of its own (about
 * 40 MB of RSS on Node 20) that the bus does not need.
 */
export const TYPESCRIPT_NODE_ARGS = ['--require', 'tsx/cjs'] as const;
