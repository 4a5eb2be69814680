import pMap from 'p-map';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors';
import type { Log } from '../log/log';
import type { ReadResult } from '../log/reader';
import { isDeadLetterName, type TopicConfig } from '../registry/topic';
import type { TopicRegistry } from '../registry/topic-registry';

/** How many partitions' offsets one describe reads at once. */
const DESCRIBE_CONCURRENCY = 16;

/** Where a read starts: an offset, or the first event appended at or after a time (epoch ms). */
export type ReadStart = { readonly offset: number } | { readonly timestamp: number };

/**
 * The topics' workflows, once, for the HTTP API and the registrar: create
 * (the same configuration again is no change, another is CONFLICT), list,
 * describe each partition's retained range, and read a partition.
 */
export class TopicService {
  constructor(
    private readonly topics: TopicRegistry,
    private readonly log: Log,
  ) {}

  /**
   * Creates the topic; false when the same configuration exists (CONFLICT
   * when another does, or when the name is reserved for dead letters).
   */
  create(topic: TopicConfig): Promise<boolean> {
    refuseDeadLetterName(topic.name);
    return this.topics.create(topic);
  }

  /**
   * Makes the registry hold a topic declared in code. Partitions and
   * retention never change once created (keys would move partitions), so a
   * different existing topic fails the deployment saying so.
   */
  async declare(topic: TopicConfig): Promise<void> {
    refuseDeadLetterName(topic.name);
    try {
      await this.topics.create(topic);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      throw new ConflictError(
        `Topic "${topic.name}" exists with another configuration; a topic's partitions and retention cannot change. Declare a new topic instead.`,
      );
    }
  }

  /** The topic's configuration; TOPIC_NOT_FOUND if there is none. */
  get(name: string): Promise<TopicConfig> {
    return this.topics.get(name);
  }

  /**
   * The topic a producer publishes to; FORBIDDEN for a dead-letter topic,
   * which holds only what its group dead-lettered (docs/adr/0014).
   */
  async publishable(name: string): Promise<TopicConfig> {
    const topic = await this.topics.get(name);
    if (topic.deadLetterOf !== undefined || isDeadLetterName(topic.name)) {
      throw new ForbiddenError(
        `Topic "${topic.name}" is a dead-letter topic: only the bus appends to it, with what its group dead-lettered.`,
      );
    }
    return topic;
  }

  list(): Promise<TopicConfig[]> {
    return this.topics.list();
  }

  /** The configuration and each partition's retained range; `endOffset` is the offset the next event gets. */
  async describe(name: string): Promise<{
    topic: TopicConfig;
    partitions: { partition: number; startOffset: number; endOffset: number }[];
  }> {
    const topic = await this.topics.get(name);
    const partitions = await pMap(
      Array.from({ length: topic.partitions }, (_, partition) => partition),
      async (partition) => ({ partition, ...(await this.log.offsets(topic.name, partition)) }),
      { concurrency: DESCRIBE_CONCURRENCY },
    );
    return { topic, partitions };
  }

  /**
   * Up to `limit` events of one partition, named as the path gives it
   * (NOT_FOUND for a partition the topic has not), from `start`.
   */
  async read(name: string, partitionText: string, start: ReadStart, limit: number): Promise<ReadResult> {
    const topic = await this.topics.get(name);
    const partition = Number(partitionText);
    if (!/^\d{1,3}$/.test(partitionText) || partition >= topic.partitions) {
      throw new NotFoundError(
        `Topic "${topic.name}" has partitions 0 to ${topic.partitions - 1}; there is no partition "${partitionText.slice(0, 60)}".`,
      );
    }
    const offset =
      'offset' in start
        ? start.offset
        : await this.log.offsetForTimestamp(topic.name, partition, start.timestamp);
    return this.log.read(topic.name, partition, offset, limit);
  }
}

/** Names ending `.dlq` are the bus's: it creates each with its group (docs/adr/0014). */
function refuseDeadLetterName(name: string): void {
  if (isDeadLetterName(name)) {
    throw new ConflictError(
      `Topic names ending ".dlq" are reserved for dead-letter topics, which the bus creates with their group; "${name.slice(0, 220)}" cannot be created by hand.`,
      { details: { reserved: 'dead-letter-topic' } },
    );
  }
}
