import { z } from 'zod';
import { MIN_RETENTION_HOURS, SETTINGS } from '../config';
import { InvalidRequestError } from '../errors';
import { GroupName, TopicName } from '../names';
import { integer, integerRule, validate } from '../validation';

/** A topic's configuration: it never changes once created (keys would move to other partitions). */
export interface TopicConfig {
  readonly name: string;
  readonly partitions: number;
  readonly retentionHours: number;
  /**
   * The group whose dead-letter topic this is (docs/adr/0014): the bus
   * creates it with the group and alone appends to it.
   */
  readonly deadLetterOf?: string;
}

/** Suffix of a group's dead-letter topic: names ending so are the bus's, never created by hand. */
export const DEAD_LETTER_SUFFIX = '.dlq';

/** Whether `name` is reserved for a group's dead letters. */
export function isDeadLetterName(name: string): boolean {
  return name.endsWith(DEAD_LETTER_SUFFIX);
}

export const MAX_PARTITIONS = 256;

/**
 * The partition a request names by its number as text: a canonical number
 * only ("01" is not a name of partition 1), and one the topic has
 * (INVALID_REQUEST otherwise).
 */
export function partitionNamed(topic: Pick<TopicConfig, 'name' | 'partitions'>, text: string): number {
  const partition = Number(text);
  if (!/^(0|[1-9]\d{0,2})$/.test(text) || partition >= topic.partitions) {
    throw new InvalidRequestError(
      `Topic "${topic.name}" has partitions 0 to ${topic.partitions - 1}, not "${text.slice(0, 60)}".`,
    );
  }
  return partition;
}

/**
 * The longest retention unless the deployment says otherwise (the construct's `maxRetentionDays`): the
 * bucket's lifecycle deletes segment objects after it, so a topic may keep events no longer.
 */
export const DEFAULT_MAX_RETENTION_HOURS = SETTINGS.maxRetentionHours.default;

/** The retention rule, with this deployment's bound. */
export function retentionRule(maxRetentionHours: number): string {
  return `${integerRule('"retentionHours"', MIN_RETENTION_HOURS, maxRetentionHours)} (this deployment's longest retention).`;
}

/**
 * What `PUT /topics/{topic}` and `EventBus.addTopic` set: partitions and
 * retention. The retention's upper bound is the deployment's, checked by
 * {@link validateTopicConfig}; the schema (and so the document) gives the default's.
 */
export const TopicSettings = z
  .strictObject(
    {
      partitions: integer(1, MAX_PARTITIONS),
      retentionHours: z
        .int({ error: retentionRule(DEFAULT_MAX_RETENTION_HOURS) })
        .min(MIN_RETENTION_HOURS, { error: retentionRule(DEFAULT_MAX_RETENTION_HOURS) })
        .meta({
          description: `At least ${MIN_RETENTION_HOURS}; at most the deployment's longest retention (${DEFAULT_MAX_RETENTION_HOURS} h by default).`,
        }),
    },
    { error: 'The body must be an object: {"partitions": 1..256, "retentionHours": >=24}.' },
  )
  .meta({ id: 'TopicConfigRequest', example: { partitions: 3, retentionHours: 48 } });

/** A topic as the API shows it. */
export const Topic = z
  .object({
    name: TopicName,
    partitions: z.int().min(1),
    retentionHours: z.int().min(MIN_RETENTION_HOURS),
    deadLetterOf: GroupName.optional().meta({
      description: 'Set on a dead-letter topic: the group whose it is. Only the bus appends to it.',
    }),
  })
  .meta({ id: 'Topic' });

/** Throws INVALID_REQUEST unless `topic` is a valid configuration for a deployment keeping at most `maxRetentionHours`. */
export function validateTopicConfig(
  topic: TopicConfig,
  maxRetentionHours = DEFAULT_MAX_RETENTION_HOURS,
): TopicConfig {
  const name = validate(TopicName, topic.name, 'path');
  const settings = validate(TopicSettings, {
    partitions: topic.partitions,
    retentionHours: topic.retentionHours,
  });
  if (settings.retentionHours > maxRetentionHours)
    throw new InvalidRequestError(retentionRule(maxRetentionHours));
  return {
    name,
    ...settings,
    ...(topic.deadLetterOf === undefined ? {} : { deadLetterOf: topic.deadLetterOf }),
  };
}
