import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { EventBusClient } from '../client';
import { type Connection, resolveConnection } from './connection';
import { Output } from './output';

/** What every command works with: the client, where it points, and how to print. */
export interface CommandContext {
  readonly client: EventBusClient;
  readonly connection: Connection;
  readonly out: Output;
}

/** The global options as commander parsed them. */
interface GlobalOptions {
  url?: string;
  key?: string;
  json?: boolean;
}

/** The connection of the last command: the error report names where the CLI looked. */
let lastConnection: Connection | undefined;

/**
 * The client and output for a command, from the global options (`--url`, `--key`, `--json`) and local mode.
 *
 * @example
 * .action(async (name, options, command) => { const { client, out } = contextOf(command); … })
 */
export function contextOf(command: Command): CommandContext {
  const options = command.optsWithGlobals<GlobalOptions>();
  const connection = resolveConnection(options);
  lastConnection = connection;
  let client: EventBusClient;
  try {
    // A person is waiting: a few quick retries, then an error saying what to do (exit code 3 or 8).
    client = new EventBusClient({ url: connection.url, key: connection.key, retry: { retries: 3 } });
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return { client, connection, out: new Output(options.json === true) };
}

/** Where the last command pointed (for error hints). */
export function connectionInUse(): Connection {
  return lastConnection ?? resolveConnection({});
}

/**
 * commander's parser for an integer option or argument, from `min` (and up to `max`).
 *
 * @example
 * .option('-p, --partitions <n>', 'partitions', integer(1, 256), 1)
 */
export function integer(min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `Give an integer of at least ${min}.`
          : `Give an integer from ${min} to ${max}.`,
      );
    }
    return value;
  };
}

/** commander's parser for an ISO-8601 date-time. */
export function isoTime(raw: string): string {
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(Date.parse(raw))) {
    throw new InvalidArgumentError('Give an ISO-8601 date-time, e.g. 2026-11-24T00:00:00Z.');
  }
  return raw;
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
