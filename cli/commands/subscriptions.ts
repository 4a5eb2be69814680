import { type Command, Option } from 'commander';
import { describeTarget, type OffsetReset, type Subscription, type SubscriptionTarget } from '../../client';
import { collect, contextOf, integer, isoTime } from '../context';
import { UsageError } from '../exit-codes';
import { table } from '../output';

function ageOf(ms: number | undefined): string {
  if (!ms) return '';
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

interface CreateOptions {
  topic: string;
  webhook?: string;
  lambda?: string;
  batchSize?: number;
  maxAttempts?: number;
  maxAgeSeconds?: number;
  startFrom?: 'earliest' | 'latest';
  delivery?: 'at-least-once' | 'at-most-once';
  timeoutSeconds?: number;
}

interface ResetOptions {
  toEarliest?: boolean;
  toLatest?: boolean;
  toTimestamp?: string;
  toOffset?: string[];
}

/** `eventbus subscriptions create|list|describe|reset|redrive|delete`. */
export function registerSubscriptions(program: Command): void {
  const subscriptions = program
    .command('subscriptions')
    .alias('groups')
    .description(
      'consumer groups: create, list, describe (lag), reset offsets, redrive dead letters, delete',
    );

  subscriptions
    .command('create <group>')
    .description('subscribe a group to a topic, delivering to a webhook or a Lambda function')
    .requiredOption('-t, --topic <topic>', 'the topic to deliver')
    .addOption(
      new Option('--webhook <url>', 'deliver to this URL (signed, Standard Webhooks)').conflicts('lambda'),
    )
    .addOption(new Option('--lambda <function>', 'deliver to this Lambda function (name or ARN)'))
    .option('--batch-size <n>', 'events per delivery, 1 to 1000 (default 100)', integer(1, 1000))
    .option('--max-attempts <n>', 'attempts before an event goes to <group>.dlq (default 5)', integer(1))
    .option('--max-age-seconds <s>', 'an event older than this goes to <group>.dlq', integer(1))
    .addOption(
      new Option('--start-from <where>', 'where a new group starts (default latest)').choices([
        'earliest',
        'latest',
      ]),
    )
    .addOption(
      new Option('--delivery <mode>', 'delivery guarantee (default at-least-once)').choices([
        'at-least-once',
        'at-most-once',
      ]),
    )
    .option('--timeout-seconds <s>', 'how long the target may take per delivery', integer(1))
    .action(async (group: string, options: CreateOptions, command: Command) => {
      if (!options.webhook === !options.lambda) {
        throw new UsageError('Give the target: --webhook <url> or --lambda <function>.');
      }
      const { client, out } = contextOf(command);
      const target: SubscriptionTarget = options.webhook
        ? { type: 'webhook', url: options.webhook }
        : { type: 'lambda', function: options.lambda as string };
      const { created, subscription } = await client.putSubscription(group, {
        topic: options.topic,
        target,
        batchSize: options.batchSize,
        maxAttempts: options.maxAttempts,
        maxAgeSeconds: options.maxAgeSeconds,
        startFrom: options.startFrom,
        delivery: options.delivery,
        timeoutSeconds: options.timeoutSeconds,
      });
      out.result({ created, ...subscription }, () => {
        const lines = [
          created
            ? `Created subscription ${group} on ${subscription.topic}, delivering to ${describeTarget(subscription.target)}.`
            : `Subscription ${group} exists with this configuration.`,
        ];
        if (subscription.secret) lines.push(`Signing secret (shown only now): ${subscription.secret}`);
        return lines.join('\n');
      });
    });

  subscriptions
    .command('list')
    .description('the subscriptions on topics this key may read')
    .action(async (_options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const all = await client.listSubscriptions();
      out.result({ subscriptions: all }, () =>
        all.length === 0
          ? 'No subscriptions yet; create one with: eventbus subscriptions create <group> --topic <topic> --webhook <url>'
          : table(
              ['group', 'topic', 'target', 'delivery', 'batch size', 'max attempts'],
              all.map((s: Subscription) => [
                s.group,
                s.topic,
                describeTarget(s.target),
                s.delivery,
                s.batchSize,
                s.maxAttempts,
              ]),
            ),
      );
    });

  subscriptions
    .command('describe <group>')
    .description("a group's configuration and, per partition, its committed offset, lag and failures")
    .action(async (group: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const s = await client.getSubscription(group);
      const lag = s.partitions.reduce((n, p) => n + p.lag, 0);
      out.result({ ...s, lag }, () =>
        [
          `Subscription ${s.group} on ${s.topic} → ${describeTarget(s.target)} (${s.delivery}, batches of ${s.batchSize}, ${s.maxAttempts} attempts).`,
          table(
            ['partition', 'committed', 'end', 'lag', 'attempts', 'oldest waiting', 'last error'],
            s.partitions.map((p) => [
              p.partition,
              p.committedOffset,
              p.endOffset,
              p.lag,
              p.attempts,
              ageOf(p.oldestEventAgeMs),
              p.lastError,
            ]),
          ),
          `Total lag: ${lag} event(s).`,
        ].join('\n'),
      );
    });

  subscriptions
    .command('reset <group>')
    .description("move a group's committed offsets: replay (earlier) or skip (later)")
    .option('--to-earliest', 'to the oldest retained event of every partition')
    .option('--to-latest', 'to the end of every partition (skip everything waiting)')
    .option('--to-timestamp <iso>', 'to the first event at or after this time, on every partition', isoTime)
    .option('--to-offset <partition=offset>', 'to this offset on this partition, repeatable', collect)
    .action(async (group: string, options: ResetOptions, command: Command) => {
      const given = [options.toEarliest, options.toLatest, options.toTimestamp, options.toOffset].filter(
        (o) => o !== undefined,
      );
      if (given.length !== 1) {
        throw new UsageError(
          'Give exactly one of --to-earliest, --to-latest, --to-timestamp <iso> or --to-offset <partition>=<offset>.',
        );
      }
      let to: OffsetReset;
      if (options.toEarliest) to = 'earliest';
      else if (options.toLatest) to = 'latest';
      else if (options.toTimestamp) to = { timestamp: options.toTimestamp };
      else {
        const offsets: Record<number, number> = {};
        for (const pair of options.toOffset ?? []) {
          const match = /^(\d+)=(\d+)$/.exec(pair);
          if (!match)
            throw new UsageError(`--to-offset takes <partition>=<offset>, e.g. 0=42; got "${pair}".`);
          offsets[Number(match[1])] = Number(match[2]);
        }
        to = { offsets };
      }
      const { client, out } = contextOf(command);
      const partitions = await client.resetOffsets(group, to);
      out.result({ group, partitions }, () =>
        [
          `Moved ${group}; delivery resumes from these offsets (a batch in flight finishes first):`,
          table(
            ['partition', 'committed'],
            partitions.map((p) => [p.partition, p.committedOffset]),
          ),
        ].join('\n'),
      );
    });

  subscriptions
    .command('redrive <group>')
    .description("deliver the group's dead letters (topic <group>.dlq) to its target again")
    .action(async (group: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const { deadLetters } = await client.redrive(group);
      out.result({ group, deadLetters }, () =>
        deadLetters === 0
          ? `${group} has no dead letters to redrive.`
          : `Redriving ${deadLetters} dead letter(s) from ${group}.dlq to ${group}'s target.`,
      );
    });

  subscriptions
    .command('delete <group>')
    .description('delete a subscription: the group receives nothing more and its offsets are forgotten')
    .action(async (group: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      await client.deleteSubscription(group);
      out.result({ deleted: group }, () => `Deleted subscription ${group}.`);
    });
}
