import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { queryAll } from '../aws/query-all';
import type { AclEntry, Permission } from './acl';
import type { KeyStore, StoredApiKey } from './key-store';

const API_KEY_PK = 'apikey';

/**
 * API keys in the registry table, at `pk = "apikey"`, `sk = <id>`, holding
 * `keyHash`, `acl`, `description` and `createdAt`; never the key.
 *
 * @example
 * const store = new DynamoKeyStore(clients.dynamo, config.registryTable);
 * const key = await store.find('3q2-7wAbCdEf');
 */
export class DynamoKeyStore implements KeyStore {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(key: StoredApiKey): Promise<boolean> {
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: API_KEY_PK,
            sk: key.id,
            id: key.id,
            keyHash: key.keyHash,
            acl: key.acl.map((entry) => ({ topics: entry.topics, permissions: [...entry.permissions] })),
            ...(key.description === undefined ? {} : { description: key.description }),
            createdAt: key.createdAt,
          },
          // Ids are random, so a clash is all but impossible; but if one happened, overwriting
          // would silently revoke the other key and give its id a new ACL.
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async find(id: string): Promise<StoredApiKey | undefined> {
    const { Item } = await this.dynamo.send(
      new GetCommand({ TableName: this.table, Key: { pk: API_KEY_PK, sk: id }, ConsistentRead: true }),
    );
    return Item ? toStoredKey(Item) : undefined;
  }

  async list(): Promise<StoredApiKey[]> {
    const items = await queryAll(this.dynamo, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': API_KEY_PK },
      ConsistentRead: true,
    });
    return items.map(toStoredKey);
  }

  async delete(id: string): Promise<boolean> {
    const { Attributes } = await this.dynamo.send(
      new DeleteCommand({ TableName: this.table, Key: { pk: API_KEY_PK, sk: id }, ReturnValues: 'ALL_OLD' }),
    );
    return Attributes !== undefined;
  }
}

function toStoredKey(item: Record<string, unknown>): StoredApiKey {
  const acl = (item.acl as { topics: string; permissions: Permission[] }[]).map(
    (entry): AclEntry => ({ topics: entry.topics, permissions: [...entry.permissions] }),
  );
  return {
    id: item.sk as string,
    keyHash: item.keyHash as string,
    acl,
    ...(typeof item.description === 'string' ? { description: item.description } : {}),
    createdAt: item.createdAt as string,
  };
}
