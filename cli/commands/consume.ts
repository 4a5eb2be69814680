import { type Command, Option } from 'commander';
import type { ConsumedEvent, EventBusClient, ReadOptions } from '../../client';
import { contextOf, integer, isoTime } from '../context';
import { UsageError } from '../exit-codes';
import type { Output } from '../output';

interface ConsumeOptions {
  partition?: number;
  fromBeginning?: boolean;
  offset?: number;
  timestamp?: string;
  follow?: boolean;
  maxEvents?: number;
  limit: number;
  pollMs: number;
}

function render(out: Output, partition: number, event: ConsumedEvent): string {
  if (out.json) return JSON.stringify({ partition, ...event });
  const value =
    event.valueEncoding === 'base64'
      ? `(base64) ${event.value}`
      : typeof event.value === 'string'
        ? event.value
        : JSON.stringify(event.value);
  return `${partition}:${event.offset}\t${event.key ?? '-'}\t${value}`;
}

/** `eventbus consume <topic>`. */
export function registerConsume(program: Command): void {
  program
    .command('consume <topic>')
    .description(
      'print the events of a topic (all partitions, or one): by default those published from now on',
    )
    .option('-p, --partition <n>', 'only this partition', integer(0))
    .addOption(
      new Option('--from-beginning', 'from the oldest retained event').conflicts(['offset', 'timestamp']),
    )
    .addOption(
      new Option('--offset <n>', 'from this offset (needs --partition)')
        .argParser(integer(0))
        .conflicts('timestamp'),
    )
    .option('--timestamp <iso>', 'from the first event at or after this time', isoTime)
    .option('-f, --follow', 'keep waiting for new events (Ctrl-C stops)')
    .option('-n, --max-events <n>', 'stop after this many events', integer(1))
    .addOption(
      new Option('--limit <n>', 'events per request').argParser(integer(1, 1000)).default(1000).hideHelp(),
    )
    .addOption(
      new Option('--poll-ms <ms>', 'wait at the end before asking again, with --follow')
        .argParser(integer(1))
        .default(1000),
    )
    .addHelpText(
      'after',
      `
Each event prints as "<partition>:<offset> <key> <value>" (tab-separated); with --json, one JSON object per line.
Without --from-beginning, --offset or --timestamp it starts at the end (as kafka-console-consumer does), so
without --follow it prints nothing.

Examples:
  eventbus consume orders --from-beginning
  eventbus consume orders --partition 0 --offset 42 --max-events 10
  eventbus consume orders --timestamp 2026-11-24T00:00:00Z --follow --json`,
    )
    .action(async (topic: string, options: ConsumeOptions, command: Command) => {
      if (options.offset !== undefined && options.partition === undefined) {
        throw new UsageError('--offset needs --partition: offsets are per partition.');
      }
      const { client, out } = contextOf(command);
      const partitions =
        options.partition !== undefined
          ? [options.partition]
          : (await client.describeTopic(topic)).partitions.map((p) => p.partition);
      const from: ReadOptions['from'] = options.fromBeginning
        ? 'earliest'
        : options.offset !== undefined
          ? options.offset
          : options.timestamp !== undefined
            ? { timestamp: options.timestamp }
            : 'latest';
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let consumed = 0;
      const read = async (partition: number) => {
        for await (const event of readPartition(client, topic, partition, options, from, controller.signal)) {
          if (controller.signal.aborted) return;
          out.line(render(out, partition, event));
          if (++consumed === options.maxEvents) controller.abort();
        }
      };
      try {
        // Following, partitions are read side by side; otherwise one after the other, so the output is in order.
        if (options.follow) await Promise.all(partitions.map(read));
        else for (const partition of partitions) if (!controller.signal.aborted) await read(partition);
      } catch (error) {
        if (!controller.signal.aborted) throw error;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      if (process.stderr.isTTY) process.stderr.write(`Consumed ${consumed} event(s) from ${topic}.\n`);
    });
}

function readPartition(
  client: EventBusClient,
  topic: string,
  partition: number,
  options: ConsumeOptions,
  from: ReadOptions['from'],
  signal: AbortSignal,
): AsyncGenerator<ConsumedEvent> {
  return client.read(topic, partition, {
    from,
    follow: options.follow,
    limit: options.limit,
    pollIntervalMs: options.pollMs,
    signal,
  });
}
