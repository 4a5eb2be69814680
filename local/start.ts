/**
 * `npm start`: the bus on this machine, until Ctrl-C or SIGTERM. Logs are one readable line each
 * unless `--json` or `LOG_FORMAT=json` asks for Powertools' JSON lines.
 */

// Before the bus's modules load: their loggers take the format when they are made.
if (process.argv.includes('--json')) process.env.LOG_FORMAT = 'json';
else process.env.LOG_FORMAT ??= 'text';

// Required, not imported: an import would be hoisted above the lines that choose the format.
const { runLocalBus } = require('./main') as typeof import('./main');
runLocalBus();
