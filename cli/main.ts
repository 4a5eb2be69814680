import { Command, CommanderError } from 'commander';
import { EventBusError } from '../client';
import { DEFAULT_DATA_DIR, DEFAULT_PORT } from '../local/defaults';
import { registerConsume } from './commands/consume';
import { registerKeys } from './commands/keys';
import { registerPublish } from './commands/publish';
import { registerSchemas } from './commands/schemas';
import { registerSubscriptions } from './commands/subscriptions';
import { registerTopics } from './commands/topics';
import { connectionInUse } from './context';
import { EXIT, EXIT_CODES_HELP, exitCodeFor, hintFor } from './exit-codes';

const { version } = require('../package.json') as { version: string };

const CONNECTION_HELP = `
Connection:
  --url, else EVENTBUS_URL, else local mode's http://127.0.0.1:<EVENTBUS_PORT or ${DEFAULT_PORT}>.
  --key, else EVENTBUS_KEY, else local mode's admin key: EVENTBUS_ADMIN_KEY, or the file admin-key in the
  data directory (EVENTBUS_DATA_DIR, default ${DEFAULT_DATA_DIR} in the current directory), as npm start keeps it.

Examples:
  eventbus topics create orders --partitions 3
  eventbus publish orders '{"total": 42}' --event-key order-1
  cat events.ndjson | eventbus publish orders
  eventbus consume orders --from-beginning --json
  eventbus subscriptions describe billing
  eventbus subscriptions reset billing --to-earliest`;

/** The `eventbus` command line: every command, the global options and the help. */
function buildProgram(): Command {
  const program = new Command('eventbus')
    .description(
      "the event bus's command line: topics, publish, consume, subscriptions (consumer groups), keys",
    )
    .option('--url <url>', 'the bus (default: EVENTBUS_URL, else local mode)')
    .option('--key <key>', 'the API key (default: EVENTBUS_KEY, else local mode admin key)')
    .option('--json', 'print JSON for scripts instead of tables')
    .version(version, '-V, --version', "the CLI's version")
    .showHelpAfterError('(eventbus --help lists the commands and options)')
    .exitOverride()
    .addHelpText('after', `${CONNECTION_HELP}\n${EXIT_CODES_HELP}`);
  registerTopics(program);
  registerSchemas(program);
  registerPublish(program);
  registerConsume(program);
  registerSubscriptions(program);
  registerKeys(program);
  return program;
}

/** Runs the CLI; resolves with the exit code. */
async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    return Number(process.exitCode ?? EXIT.ok);
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed the message (or the help) already.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const json = program.opts<{ json?: boolean }>().json === true;
    const code = exitCodeFor(error);
    const hint = hintFor(error, connectionInUse());
    if (json) {
      const busError = error instanceof EventBusError ? error : undefined;
      process.stderr.write(
        `${JSON.stringify({
          error: {
            code: busError?.code ?? (code === EXIT.usage ? 'USAGE' : 'INTERNAL'),
            status: busError?.status,
            message: (error as Error).message,
            ...(hint ? { hint } : {}),
          },
        })}\n`,
      );
    } else {
      const label = error instanceof EventBusError ? ` ${error.code}` : '';
      process.stderr.write(`eventbus: error${label}: ${(error as Error).message}\n`);
      if (hint) process.stderr.write(`eventbus: ${hint}\n`);
      if (code === EXIT.internal && !(error instanceof EventBusError))
        process.stderr.write(`${(error as Error).stack}\n`);
    }
    return code;
  }
}

if (require.main === module || process.env.EVENTBUS_CLI_MAIN === '1') {
  // `eventbus consume … | head`: a reader that has had enough is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
  run(process.argv).then(
    (code) => {
      // Ends once stdout is written out (a pipe may still hold the last lines), whatever sockets fetch keeps.
      process.exitCode = code;
      process.stdout.write('', () => process.exit(code));
    },
    (error) => {
      process.stderr.write(`eventbus: ${error?.stack ?? error}\n`);
      process.exit(EXIT.internal);
    },
  );
}
