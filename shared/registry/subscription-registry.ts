import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
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
/** The item whose version every new topic target bumps: see {@link SubscriptionRegistry.routesVersion}. */
const ROUTES_KEY = { pk: 'routes', sk: 'routes' };
/** Groups `findRecent` keeps at most (the least recently used goes first). */
const RECENT_ENTRIES = 10_000;

/** Another topic target was created since the routes were read: check for a cycle again. */
export class RoutesChangedError extends Error {
  constructor() {
    super('the topic targets changed while this one was checked');
  }
}

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
    routesVersion?: number,
  ): Promise<{ created: boolean; subscription: StoredSubscription }> {
    const stored: StoredSubscription = {
      ...subscription,
      ...(subscription.target.type === 'webhook' ? { secret: secret ?? newWebhookSecret() } : {}),
      createdAt: new Date(this.now()).toISOString(),
    };
    const put = {
      TableName: this.table,
      Item: { pk: SUBSCRIPTION_PK, sk: subscription.group, ...stored },
      ConditionExpression: 'attribute_not_exists(pk)',
    };
    const created =
      routesVersion === undefined ? await this.put(put) : await this.putRoute(put, routesVersion);
    if (created) {
      this.listed = undefined;
      return { created: true, subscription: stored };
    }
    const existing = await this.get(subscription.group);
    if (sameSubscription(existing, subscription) && (secret === undefined || secret === existing.secret)) {
      return { created: false, subscription: existing };
    }
    throw new ConflictError(
      `Subscription "${subscription.group}" exists with a different configuration; delete it first to change it.`,
    );
  }

  /**
   * The version of the routes between topics, bumped by every topic target
   * created. A route is checked for cycles against the routes listed after
   * reading it and written only if it is still the same: two requests that
   * each close half of a circle cannot both land (one re-checks and is refused).
   */
  async routesVersion(): Promise<number> {
    const { Item } = await this.dynamo.send(
      new GetCommand({ TableName: this.table, Key: ROUTES_KEY, ConsistentRead: true }),
    );
    return (Item?.version as number | undefined) ?? 0;
  }

  /** Writes a new group's subscription; false when the group exists. */
  private async put(put: PutCommand['input']): Promise<boolean> {
    try {
      await this.dynamo.send(new PutCommand(put));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Writes a topic target's subscription and bumps the routes' version in
   * one transaction, if no other route landed since `routesVersion` was read
   * (RoutesChangedError otherwise); false when the group exists.
   */
  private async putRoute(put: PutCommand['input'], routesVersion: number): Promise<boolean> {
    try {
      await this.dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: put },
            {
              Update: {
                TableName: this.table,
                Key: ROUTES_KEY,
                UpdateExpression: 'SET version = :next',
                ConditionExpression: 'attribute_not_exists(version) OR version = :seen',
                ExpressionAttributeValues: { ':seen': routesVersion, ':next': routesVersion + 1 },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [group, routes] = (error.CancellationReasons ?? []).map((reason) => reason.Code);
      if (group === 'ConditionalCheckFailed') return false;
      if (routes === 'ConditionalCheckFailed') throw new RoutesChangedError();
      throw error;
    }
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
