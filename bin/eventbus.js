#!/usr/bin/env node

// The CLI is TypeScript: run it through tsx's CommonJS hook, as `npm start` runs the bus (local/node-args.ts).
require('tsx/cjs');
process.env.EVENTBUS_CLI_MAIN = '1';
require('../cli/main.ts');
