import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { LRUCache } from 'lru-cache';
import { queryAll } from '../aws/query-all';
import {
  newWebhookSecret,
  type StoredSubscription,
  type Subscription,
  sameSubscription,
} from '../delivery/subscription';
import { ConflictError, NotFoundError } from '../errors';

const SUBSCRIPTION_PK = 'subscription';
/** Groups `findRecent` keeps at most (the least recently used goes first). */
const RECENT_ENTRIES = 10_000;

export class SubscriptionNotFoundError extends NotFoundError {
  constructor(readonly group: string) {
    super(
      `There is no subscription "${group}"; create it with PUT /subscriptions/${group}.`,
      'SUBSCRIPTION_NOT_FOUND',
    );
  }
}

/**
 * Subscriptions (consumer groups) in the registry table, at
 * `pk = "subscription"`, `sk = <group>`. The dispatcher asks "who reads this
 * topic?" on every stream batch, so the whole list is kept in the process for
 * a few seconds; a subscription created meanwhile is found by the scheduled
 * sweep of lagging groups. Reads of one group are strongly consistent.
 */
export class SubscriptionRegistry {
  private listed?: { subscriptions: StoredSubscription[]; at: number };
  /** Groups as `findRecent` read them: bounded, each for `listCacheMs`, on the injected clock. */
  private readonly recent: LRUCache<string, StoredSubscription>;

  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly listCacheMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {
    this.recent = new LRUCache({ max: RECENT_ENTRIES, ttl: listCacheMs, ttlResolution: 0, perf: { now } });
  }

  /**
   * Creates a subscription; a webhook gets a new signing secret unless one is
   * given. `created` is false when the same subscription exists (its secret
   * is then not shown again); CONFLICT when a different one does.
   */
  async create(
    subscription: Subscription,
    secret?: string,
  ): Promise<{ created: boolean; subscription: StoredSubscription }> {
    const stored: StoredSubscription = {
      ...subscription,
      ...(subscription.target.type === 'webhook' ? { secret: secret ?? newWebhookSecret() } : {}),
      createdAt: new Date(this.now()).toISOString(),
    };
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: SUBSCRIPTION_PK, sk: subscription.group, ...stored },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      this.listed = undefined;
      return { created: true, subscription: stored };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const existing = await this.get(subscription.group);
    if (sameSubscription(existing, subscription) && (secret === undefined || secret === existing.secret)) {
      return { created: false, subscription: existing };
    }
    throw new ConflictError(
      `Subscription "${subscription.group}" exists with a different configuration; delete it first to change it.`,
    );
  }

  /** The subscription; SUBSCRIPTION_NOT_FOUND if there is none. */
  async get(group: string): Promise<StoredSubscription> {
    const found = await this.find(group);
    if (!found) throw new SubscriptionNotFoundError(group);
    return found;
  }

  async find(group: string): Promise<StoredSubscription | undefined> {
    const { Item } = await this.dynamo.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: SUBSCRIPTION_PK, sk: group },
        ConsistentRead: true,
      }),
    );
    return Item ? toSubscription(Item) : undefined;
  }

  /**
   * The subscription as read within the last few seconds, else afresh. Its
   * configuration never changes once created, so only its existence can be
   * stale: callers that must know it still exists use `find`.
   */
  async findRecent(group: string): Promise<StoredSubscription | undefined> {
    const cached = this.recent.get(group);
    if (cached) return cached;
    const subscription = await this.find(group);
    if (subscription) this.recent.set(group, subscription);
    else this.recent.delete(group);
    return subscription;
  }

  /** Every subscription, fresh from the table. */
  async list(): Promise<StoredSubscription[]> {
    const items = await queryAll(this.dynamo, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': SUBSCRIPTION_PK },
      ConsistentRead: true,
    });
    const subscriptions = items.map(toSubscription);
    this.listed = { subscriptions, at: this.now() };
    return subscriptions;
  }

  /** The subscriptions reading `topic`, from a list at most a few seconds old. */
  async readersOf(topic: string): Promise<StoredSubscription[]> {
    const listed =
      this.listed && this.now() - this.listed.at < this.listCacheMs
        ? this.listed.subscriptions
        : await this.list();
    return listed.filter((subscription) => subscription.topic === topic);
  }

  /** Deletes the subscription; false when there was none. */
  async delete(group: string): Promise<boolean> {
    const { Attributes } = await this.dynamo.send(
      new DeleteCommand({
        TableName: this.table,
        Key: { pk: SUBSCRIPTION_PK, sk: group },
        ReturnValues: 'ALL_OLD',
      }),
    );
    this.listed = undefined;
    this.recent.delete(group);
    return Attributes !== undefined;
  }
}

function toSubscription(item: Record<string, unknown>): StoredSubscription {
  const { pk: _pk, sk: _sk, ...subscription } = item;
  return subscription as unknown as StoredSubscription;
}
