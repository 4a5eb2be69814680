import { createInterface } from 'node:readline';
import { SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import { EventBusError, type EventToPublish, type JsonValue, Producer } from '../../client';
import { collect, contextOf, integer } from '../context';
import { EXIT, exitCodeFor, UsageError } from '../exit-codes';

interface PublishOptions {
  eventKey?: string;
  header?: string[];
  partition?: number;
  values?: boolean;
  lingerMs: number;
  batchSize: number;
}

/** Events sent but not yet acknowledged before reading stdin pauses: bounds memory on endless input. */
const MAX_UNACKNOWLEDGED = 20_000;
/** Failures listed in the summary, at most. */
const MAX_LISTED_FAILURES = 10;

const EVENT_MEMBERS = new Set(['key', 'value', 'headers', 'partition']);

function headersOf(pairs: readonly string[] | undefined): Record<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const headers: Record<string, string> = Object.create(null);
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new UsageError(`--header takes <name>=<value>, e.g. source=checkout; got "${pair}".`);
    headers[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return headers;
}

/** A value from the command line: JSON if it parses as JSON, else the text itself. */
function argumentValue(raw: string): JsonValue {
  try {
    return JSON.parse(raw) as JsonValue;
  } catch {
    return raw;
  }
}

/** One line of stdin as an event, or why not. */
function lineEvent(line: string, options: PublishOptions, defaults: EventToPublish): EventToPublish {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    throw new UsageError(`not JSON (${(error as Error).message})`);
  }
  if (options.values) return { ...defaults, value: parsed as JsonValue };
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !('value' in parsed)) {
    throw new UsageError(
      'not an event: each line is {"value": …, "key"?: "…", "headers"?: {…}, "partition"?: n} (use --values for lines that are values)',
    );
  }
  const unknown = Object.keys(parsed).filter((name) => !EVENT_MEMBERS.has(name));
  if (unknown.length > 0)
    throw new UsageError(`unknown member(s) ${unknown.map((n) => `"${n}"`).join(', ')}`);
  return { ...defaults, ...(parsed as EventToPublish) };
}

/** `eventbus publish <topic> [value]`. */
export function registerPublish(program: Command): void {
  program
    .command('publish <topic> [value]')
    .description(
      'publish one event (the value argument: JSON, or else text), or many from stdin, one JSON per line, batched',
    )
    // Not --key: that is the API key, for every command.
    .option(
      '-k, --event-key <key>',
      "the event's key (it picks the partition; events of a key keep their order)",
    )
    .option('-H, --header <name=value>', 'a header, repeatable', collect)
    .option('-p, --partition <n>', 'an explicit partition', integer(0))
    .option('--values', 'stdin lines are values, not {"key", "value", …} events')
    .addOption(
      new Option('--linger-ms <ms>', 'how long an event waits for others to share its request')
        .argParser(integer(0))
        .default(5),
    )
    .addOption(
      new Option('--batch-size <n>', 'events per request, at most').argParser(integer(1, 1000)).default(500),
    )
    .addHelpText(
      'after',
      `
Examples:
  eventbus publish orders '{"total": 42}' --event-key order-1
  cat events.ndjson | eventbus publish orders            # lines like {"key": "order-1", "value": {"total": 42}}
  seq 1 1000 | eventbus publish numbers --values`,
    )
    .action(async (topic: string, value: string | undefined, options: PublishOptions, command: Command) => {
      const { client, out } = contextOf(command);
      const defaults: EventToPublish = {
        value: null,
        ...(options.eventKey !== undefined ? { key: options.eventKey } : {}),
        ...(options.partition !== undefined ? { partition: options.partition } : {}),
        ...(options.header ? { headers: headersOf(options.header) } : {}),
      };
      const producer = new Producer(client, {
        lingerMs: options.lingerMs,
        maxBatchEvents: options.batchSize,
      });

      if (value !== undefined) {
        const position = await producer.send(topic, { ...defaults, value: argumentValue(value) });
        await producer.close();
        out.result(
          { topic, ...position },
          () => `Published to ${topic}: partition ${position.partition}, offset ${position.offset}.`,
        );
        return;
      }

      if (process.stdin.isTTY) process.stderr.write('Type one JSON event per line; Ctrl-D ends.\n');
      const started = performance.now();
      const bar = process.stderr.isTTY
        ? new SingleBar({
            stream: process.stderr,
            format: 'publishing {bar} {value}/{total} acknowledged | {eps} events/s',
            hideCursor: true,
            clearOnComplete: true,
          })
        : undefined;
      bar?.start(0, 0, { eps: 0 });
      let read = 0;
      let published = 0;
      const failures: { line: number; code: string; message: string }[] = [];
      let failed = 0;
      let firstError: unknown;
      const fail = (line: number, error: unknown) => {
        failed++;
        firstError ??= error;
        if (failures.length < MAX_LISTED_FAILURES) {
          failures.push({
            line,
            code: error instanceof EventBusError ? error.code : 'INVALID_LINE',
            message: (error as Error).message,
          });
        }
      };
      const pending = new Set<Promise<unknown>>();
      const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
      let lineNumber = 0;
      for await (const line of lines) {
        lineNumber++;
        if (line.trim() === '') continue;
        const at = lineNumber;
        let event: EventToPublish;
        try {
          event = lineEvent(line, options, defaults);
        } catch (error) {
          fail(at, error);
          continue;
        }
        read++;
        bar?.setTotal(read);
        const sent = producer.send(topic, event).then(
          () => {
            published++;
            bar?.update(published, { eps: Math.round(published / ((performance.now() - started) / 1000)) });
          },
          (error) => fail(at, error),
        );
        pending.add(sent);
        sent.finally(() => pending.delete(sent));
        if (pending.size >= MAX_UNACKNOWLEDGED) await producer.flush();
      }
      await producer.close();
      await Promise.all(pending);
      bar?.stop();
      const seconds = (performance.now() - started) / 1000;
      const { requests } = producer.stats;
      const summary = {
        topic,
        published,
        failed,
        requests,
        seconds: Number(seconds.toFixed(3)),
        eventsPerSecond: Math.round(published / Math.max(seconds, 0.001)),
        failures,
      };
      out.result(summary, () => {
        const head = `Published ${published} event(s) to ${topic} in ${seconds.toFixed(2)} s (${summary.eventsPerSecond} events/s, ${requests} request(s)); ${failed} failed.`;
        return [head, ...failures.map((f) => `  line ${f.line}: ${f.code}: ${f.message}`)].join('\n');
      });
      if (failed > 0) {
        // Nothing published: the error's own code says more (no such topic, key refused) than "partial".
        process.exitCode = published === 0 ? exitCodeFor(firstError) : EXIT.partial;
        if (published === 0 && firstError instanceof EventBusError) throw firstError;
      }
    });
}
