import type { Command } from 'commander';
import { contextOf, integer } from '../context';
import { table } from '../output';

/** `eventbus topics create|list|describe`. */
export function registerTopics(program: Command): void {
  const topics = program.command('topics').description('create, list and describe topics');

  topics
    .command('create <topic>')
    .description('create a topic (succeeds if it exists with the same configuration)')
    .option('-p, --partitions <n>', 'partitions, 1 to 256', integer(1, 256), 1)
    .option('-r, --retention-hours <hours>', 'how long events are kept, at least 24', integer(24), 168)
    .action(
      async (name: string, options: { partitions: number; retentionHours: number }, command: Command) => {
        const { client, out } = contextOf(command);
        const { created, topic } = await client.createTopic(name, {
          partitions: options.partitions,
          retentionHours: options.retentionHours,
        });
        out.result({ created, ...topic }, () =>
          created
            ? `Created topic ${name}: ${topic.partitions} partition(s), retention ${topic.retentionHours} h.`
            : `Topic ${name} exists with this configuration (${topic.partitions} partition(s), retention ${topic.retentionHours} h).`,
        );
      },
    );

  topics
    .command('list')
    .description('the topics this key may read')
    .action(async (_options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const all = await client.listTopics();
      out.result({ topics: all }, () =>
        all.length === 0
          ? 'No topics yet; create one with: eventbus topics create <name> --partitions 3'
          : table(
              ['topic', 'partitions', 'retention (h)'],
              all.map((t) => [t.name, t.partitions, t.retentionHours]),
            ),
      );
    });

  topics
    .command('describe <topic>')
    .description("a topic's configuration and each partition's retained offsets")
    .action(async (name: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const topic = await client.describeTopic(name);
      const events = topic.partitions.reduce((n, p) => n + p.endOffset - p.startOffset, 0);
      out.result(topic, () =>
        [
          `Topic ${topic.name}: ${topic.partitions.length} partition(s), retention ${topic.retentionHours} h, ${events} event(s) retained.`,
          table(
            ['partition', 'start offset', 'end offset', 'events'],
            topic.partitions.map((p) => [
              p.partition,
              p.startOffset,
              p.endOffset,
              p.endOffset - p.startOffset,
            ]),
          ),
        ].join('\n'),
      );
    });
}
