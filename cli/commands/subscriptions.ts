import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  describeTarget,
  type JsonValue,
  type OffsetReset,
  type RoutingTestRequest,
  type RoutingTestResult,
  type SampleEvent,
  type Subscription,
  type SubscriptionTarget,
} from '../../client';
import { collect, contextOf, integer, isoTime } from '../context';
import { UsageError } from '../exit-codes';
import { table } from '../output';

function ageOf(ms: number | undefined): string {
  if (!ms) return '';
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

interface RoutingOptions {
  filter?: Record<string, unknown>;
  transform?: string;
  targetKey?: string;
}

interface CreateOptions extends RoutingOptions {
  topic: string;
  webhook?: string;
  lambda?: string;
  toTopic?: string;
  batchSize?: number;
  maxAttempts?: number;
  maxAgeSeconds?: number;
  startFrom?: 'earliest' | 'latest';
  delivery?: 'at-least-once' | 'at-most-once';
  timeoutSeconds?: number;
}

interface TestOptions extends RoutingOptions {
  topic?: string;
  event?: SampleEvent[];
  fromTimestamp?: string;
  fromOffset?: string[];
  limit?: number;
}

/** commander's parser for `--filter`: an event pattern, a JSON object. */
function jsonObject(raw: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError(
      `Give an EventBridge event pattern as JSON, e.g. '{"value": {"total": [{"numeric": [">", 100]}]}}'.`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError('An event pattern is a JSON object.');
  return parsed as Record<string, unknown>;
}

/**
 * commander's parser for a repeatable `--event`: `{"key"?, "value", "headers"?}`, or any other JSON as
 * the event's value.
 */
function sampleEvent(raw: string, previous: SampleEvent[] = []): SampleEvent[] {
  let parsed: JsonValue;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError(
      `Give the event as JSON: a value, or {"key"?, "value", "headers"?}; got ${raw.slice(0, 60)}.`,
    );
  }
  const isEvent =
    typeof parsed === 'object' &&
    parsed !== null &&
    !Array.isArray(parsed) &&
    Object.hasOwn(parsed, 'value') &&
    Object.keys(parsed).every((name) => ['key', 'value', 'headers'].includes(name));
  return [...previous, isEvent ? (parsed as unknown as SampleEvent) : { value: parsed }];
}

/** The `--filter`, `--transform` and `--target-key` options, shared by `create` and `test`. */
function routingOptions(command: Command, keyHelp: string): Command {
  return command
    .option(
      '--filter <pattern>',
      'deliver only events matching this EventBridge event pattern (JSON)',
      jsonObject,
    )
    .option('--transform <jsonata>', 'the value the target receives: a JSONata expression over the event')
    .option('--target-key <jsonata>', keyHelp);
}

/** Where a tried event is: a sample's index, or partition:offset. */
function placeOf(result: RoutingTestResult): string {
  return result.index !== undefined ? `#${result.index}` : `${result.partition}:${result.offset}`;
}

function shown(value: unknown, width = 60): string {
  const text = JSON.stringify(value) ?? '';
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

interface ResetOptions {
  toEarliest?: boolean;
  toLatest?: boolean;
  toTimestamp?: string;
  toOffset?: string[];
}

/** `eventbus subscriptions create|list|describe|test|reset|redrive|delete`. */
export function registerSubscriptions(program: Command): void {
  const subscriptions = program
    .command('subscriptions')
    .alias('groups')
    .description(
      'consumer groups: create, list, describe (lag), reset offsets, redrive dead letters, delete',
    );

  const create = subscriptions
    .command('create <group>')
    .description('subscribe a group to a topic, delivering to a webhook, a Lambda function or another topic')
    .requiredOption('-t, --topic <topic>', 'the topic to deliver')
    .addOption(
      new Option('--webhook <url>', 'deliver to this URL (signed, Standard Webhooks)').conflicts('lambda'),
    )
    .addOption(
      new Option('--lambda <function>', 'deliver to this Lambda function (name or ARN)').conflicts('toTopic'),
    )
    .addOption(
      new Option('--to-topic <topic>', 'append matching events to this topic, exactly once').conflicts(
        'webhook',
      ),
    )
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
    .option('--timeout-seconds <s>', 'how long the target may take per delivery', integer(1));
  routingOptions(
    create,
    "with --to-topic: the appended event's key, a JSONata expression (default the event's key)",
  ).action(async (group: string, options: CreateOptions, command: Command) => {
    const targets = [options.webhook, options.lambda, options.toTopic].filter((t) => t !== undefined);
    if (targets.length !== 1) {
      throw new UsageError('Give the target: --webhook <url>, --lambda <function> or --to-topic <topic>.');
    }
    if (options.targetKey !== undefined && options.toTopic === undefined) {
      throw new UsageError(
        '--target-key keys the events a topic target appends: give --to-topic <topic> too.',
      );
    }
    const { client, out } = contextOf(command);
    const target: SubscriptionTarget = options.webhook
      ? { type: 'webhook', url: options.webhook }
      : options.lambda
        ? { type: 'lambda', function: options.lambda }
        : {
            type: 'topic',
            topic: options.toTopic as string,
            ...(options.targetKey === undefined ? {} : { key: options.targetKey }),
          };
    const { created, subscription } = await client.putSubscription(group, {
      topic: options.topic,
      target,
      batchSize: options.batchSize,
      maxAttempts: options.maxAttempts,
      maxAgeSeconds: options.maxAgeSeconds,
      startFrom: options.startFrom,
      delivery: options.delivery,
      timeoutSeconds: options.timeoutSeconds,
      filter: options.filter,
      transform: options.transform === undefined ? undefined : { jsonata: options.transform },
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
    .alias('get')
    .description(
      "a group's configuration (target, filter, transform) and, per partition, its committed offset, lag and failures",
    )
    .action(async (group: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const s = await client.getSubscription(group);
      const lag = s.partitions.reduce((n, p) => n + p.lag, 0);
      out.result({ ...s, lag }, () =>
        [
          `Subscription ${s.group} on ${s.topic} → ${describeTarget(s.target)} (${s.delivery}, batches of ${s.batchSize}, ${s.maxAttempts} attempts).`,
          ...(s.filter ? [`Filter: ${JSON.stringify(s.filter)}`] : []),
          ...(s.transform ? [`Transform: ${s.transform.jsonata}`] : []),
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

  const test = subscriptions
    .command('test [group]')
    .description(
      "try a filter, transform and target key on sample events or a topic's retained events; nothing is delivered. " +
        'With a group: its filter, transform, target key and topic (options override them)',
    )
    .option('-t, --topic <topic>', "the topic whose retained events to try (a group's own by default)")
    .option(
      '--event <json>',
      'a sample event, repeatable: its value as JSON, or {"key"?, "value", "headers"?}',
      sampleEvent,
    )
    .option('--from-timestamp <iso>', 'read the topic from the first event at or after this time', isoTime)
    .option(
      '--from-offset <partition=offset>',
      'read only this partition, from this offset; repeatable',
      collect,
    )
    .option('--limit <n>', 'events of the topic to read at most, 1 to 1000 (default 100)', integer(1, 1000));
  routingOptions(test, "a topic target's key: a JSONata expression (default the event's key)").action(
    async (group: string | undefined, options: TestOptions, command: Command) => {
      const { client, out } = contextOf(command);
      const subscription = group === undefined ? undefined : await client.getSubscription(group);
      const target = subscription?.target;
      const filter = options.filter ?? subscription?.filter;
      const transform = options.transform ?? subscription?.transform?.jsonata;
      const key = options.targetKey ?? (target?.type === 'topic' ? target.key : undefined);
      const topic = options.topic ?? subscription?.topic;
      if (!options.event && topic === undefined) {
        throw new UsageError(
          'Give sample events (--event <json>), a topic (--topic <topic>) or a group to try.',
        );
      }
      if (options.event && (options.fromOffset || options.fromTimestamp || options.limit !== undefined)) {
        throw new UsageError(
          '--from-offset, --from-timestamp and --limit read a topic; they do not go with --event.',
        );
      }
      let from: RoutingTestRequest['from'];
      if (options.fromTimestamp) from = { timestamp: options.fromTimestamp };
      if (options.fromOffset) {
        if (from) throw new UsageError('Give --from-offset or --from-timestamp, not both.');
        const offsets: Record<string, number> = {};
        for (const pair of options.fromOffset) {
          const match = /^(\d+)=(\d+)$/.exec(pair);
          if (!match)
            throw new UsageError(`--from-offset takes <partition>=<offset>, e.g. 0=42; got "${pair}".`);
          offsets[match[1]] = Number(match[2]);
        }
        from = { offsets };
      }
      const answer = await client.testRouting({
        filter,
        transform: transform === undefined ? undefined : { jsonata: transform },
        key,
        topic,
        events: options.event,
        from,
        limit: options.limit,
      });
      const { read, matched, failed } = answer.counts;
      out.result(answer, () =>
        [
          table(
            ['event', 'matched', 'key', 'value the target gets, or the error'],
            answer.results.map((r) => [
              placeOf(r),
              r.matched ? 'yes' : 'no',
              r.matched && r.error === undefined ? (r.key ?? '(none)') : '',
              r.error ?? (r.matched ? shown(r.value) : ''),
            ]),
          ),
          `${read} event(s) tried: ${matched} matched, ${failed} failed. Nothing was delivered.`,
          ...(answer.next && read >= (options.limit ?? 100)
            ? [
                `Go on with: ${Object.entries(answer.next.offsets)
                  .map(([p, o]) => `--from-offset ${p}=${o}`)
                  .join(' ')}`,
              ]
            : []),
        ].join('\n'),
      );
    },
  );

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
