import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { LRUCache } from 'lru-cache';
import { queryAll } from '../aws/query-all';
import { ConflictError, TopicNotFoundError } from '../errors';
import { DEFAULT_MAX_RETENTION_HOURS, type TopicConfig, validateTopicConfig } from './topic';

const TOPIC_PK = 'topic';

/** Topic configurations one process keeps at most (the least recently used goes first). */
const TOPIC_CACHE_ENTRIES = 10_000;

/**
 * Topic configurations in the registry table, at `pk = "topic"`, `sk = <name>`.
 * A topic's configuration never changes once created, so it is cached in
 * the process for a short while, in a bounded LRU; a miss is never cached.
 */
export class TopicRegistry {
  private readonly cache: LRUCache<string, TopicConfig>;

  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
    /** The longest retention a topic may have. */
    readonly maxRetentionHours = DEFAULT_MAX_RETENTION_HOURS,
    cacheMs = 60_000,
    /** The clock the cache expires by (ms). @default performance.now */
    now?: () => number,
  ) {
    this.cache = new LRUCache({
      max: TOPIC_CACHE_ENTRIES,
      ttl: cacheMs,
      ...(now ? { perf: { now }, ttlResolution: 0 } : {}),
    });
  }

  /** Creates a topic. Returns false when the same configuration already exists; throws CONFLICT when it differs. */
  async create(topic: TopicConfig): Promise<boolean> {
    validateTopicConfig(topic, this.maxRetentionHours);
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: TOPIC_PK, sk: topic.name, ...topic, createdAt: new Date().toISOString() },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const existing = await this.find(topic.name);
      if (
        existing &&
        existing.partitions === topic.partitions &&
        existing.retentionHours === topic.retentionHours
      ) {
        return false;
      }
      throw new ConflictError(`Topic "${topic.name}" exists with a different configuration.`, {
        details: { existing },
      });
    }
  }

  /** The topic's configuration; throws TOPIC_NOT_FOUND if it does not exist. */
  async get(name: string): Promise<TopicConfig> {
    const topic = await this.find(name);
    if (!topic) throw new TopicNotFoundError(name);
    return topic;
  }

  async find(name: string): Promise<TopicConfig | undefined> {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const { Item } = await this.dynamo.send(
      new GetCommand({ TableName: this.table, Key: { pk: TOPIC_PK, sk: name }, ConsistentRead: true }),
    );
    if (!Item) return undefined;
    const topic = toTopic(Item);
    this.cache.set(name, topic);
    return topic;
  }

  /** Forgets the topic (its events stay until they expire); false when there was none. */
  async delete(name: string): Promise<boolean> {
    const { Attributes } = await this.dynamo.send(
      new DeleteCommand({ TableName: this.table, Key: { pk: TOPIC_PK, sk: name }, ReturnValues: 'ALL_OLD' }),
    );
    this.cache.delete(name);
    return Attributes !== undefined;
  }

  async list(): Promise<TopicConfig[]> {
    const items = await queryAll(this.dynamo, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': TOPIC_PK },
    });
    return items.map(toTopic);
  }
}

function toTopic(item: Record<string, unknown>): TopicConfig {
  return {
    name: item.name as string,
    partitions: item.partitions as number,
    retentionHours: item.retentionHours as number,
    ...(typeof item.deadLetterOf === 'string' ? { deadLetterOf: item.deadLetterOf } : {}),
  };
}
