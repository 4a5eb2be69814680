/**
 * s3rver in a process of its own, started by `startS3rver` (local/emulators.ts):
 * `node --require tsx/cjs local/s3rver-main.ts <directory> <port>`. Stops on SIGTERM.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/** The part of s3rver's (untyped) API used here: a Koa app whose `callback()` serves S3. */
interface S3rverApp {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
// s3rver ships no types; `require` keeps the untyped module behind the interface above.
const S3rver: new (options: { directory: string; silent: boolean }) => S3rverApp = require('s3rver');

const [directory, port] = process.argv.slice(2);
const app = new S3rver({ directory, silent: true });
// Our own HTTP server around s3rver's handler: its `run()` never settles when the port is taken
// (the error goes to an unhandled 'error' event), and its `close()` waits for idle connections.
const server = createServer(app.callback());
server.on('error', (error) => {
  console.error(`s3rver: ${error.message}`);
  process.exit(1);
});
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
