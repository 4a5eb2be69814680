import { DEAD_LETTER_HEADERS } from '../../protocol';
import type { Log } from '../log/log';
import type { TopicConfig } from '../registry/topic';
import type { TopicRegistry } from '../registry/topic-registry';
import type { LogRecord } from '../segment/codec';
import { deadLetterTopic } from './subscription';

/** Dead letters are kept at least a week (if the deployment keeps anything that long), whatever the origin topic keeps. */
export const MIN_DEAD_LETTER_RETENTION_HOURS = 7 * 24;

/**
 * Appends events a group gave up on to its topic `<group>.dlq` (one
 * partition, created on first use, readable like any topic), with their key,
 * value and headers as published plus headers naming their origin, the last
 * error, the attempts made and when.
 */
export class DeadLetters {
  constructor(
    private readonly log: Log,
    private readonly topics: TopicRegistry,
    private readonly now: () => number = Date.now,
  ) {}

  /** Appends one dead letter; answers once it is durably committed. */
  async append(
    group: string,
    origin: { topic: string; partition: number; retentionHours: number },
    record: LogRecord,
    failure: { error: string; attempts: number },
  ): Promise<void> {
    const topic = await this.ensureTopic(group, origin.retentionHours);
    const headers: Record<string, string> = Object.assign(Object.create(null), record.headers, {
      [DEAD_LETTER_HEADERS.topic]: origin.topic,
      [DEAD_LETTER_HEADERS.partition]: String(origin.partition),
      [DEAD_LETTER_HEADERS.offset]: String(record.offset),
      [DEAD_LETTER_HEADERS.error]: failure.error,
      [DEAD_LETTER_HEADERS.attempts]: String(failure.attempts),
      [DEAD_LETTER_HEADERS.time]: new Date(this.now()).toISOString(),
    });
    await this.log.append(topic.name, 0, topic.retentionHours, [
      { timestamp: this.now(), key: record.key, value: record.value, json: record.json, headers },
    ]);
  }

  /**
   * The group's dead-letter topic, created as the group's own if there is
   * none: with the group when it is subscribed, else on its first dead letter.
   */
  async ensureTopic(group: string, originRetentionHours: number): Promise<TopicConfig> {
    const name = deadLetterTopic(group);
    const existing = await this.topics.find(name);
    if (existing) return existing;
    const topic: TopicConfig = {
      name,
      deadLetterOf: group,
      partitions: 1,
      retentionHours: Math.min(
        Math.max(originRetentionHours, MIN_DEAD_LETTER_RETENTION_HOURS),
        this.topics.maxRetentionHours,
      ),
    };
    // Two holders of different partitions may race to create it: either way it then exists.
    await this.topics.create(topic).catch(async (error) => {
      if (!(await this.topics.find(name))) throw error;
    });
    return (await this.topics.find(name)) ?? topic;
  }
}
