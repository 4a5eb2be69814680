import {
  IdempotencyItemAlreadyExistsError,
  IdempotencyItemNotFoundError,
} from '@aws-lambda-powertools/idempotency';
import { BasePersistenceLayer, IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

/**
 * Powertools' idempotency records in the registry table, one partition key
 * per record (`pk = "idempotency#<key>"`, `sk = "idempotency"`). Powertools'
 * own DynamoDB layer puts every record under one static partition key when
 * the table has a sort key, which would cap idempotent publishing at one
 * DynamoDB partition's throughput.
 */
export class RegistryIdempotencyStore extends BasePersistenceLayer {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
  ) {
    super();
  }

  protected async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const { Item } = await this.dynamo.send(
      new GetCommand({ TableName: this.table, Key: keyOf(idempotencyKey), ConsistentRead: true }),
    );
    if (!Item) throw new IdempotencyItemNotFoundError();
    return toRecord(Item);
  }

  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    const now = Date.now();
    try {
      //  |    LOCKED     |   a retry may take over if status = INPROGRESS   |  free again
      //  |---------------|--------------------------------------------------|-------------> time
      //  put        inProgressExpiry (the request's time budget)         expiresAt (24 h)
      // So: take the key when it is new, expired, or held by a request that ran out of time.
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...keyOf(record.idempotencyKey),
            expiresAt: record.expiryTimestamp,
            status: record.getStatus(),
            inProgressExpiry: record.inProgressExpiryTimestamp,
            payloadHash: record.payloadHash,
          },
          ConditionExpression:
            'attribute_not_exists(pk) OR expiresAt < :now OR (#status = :inProgress AND inProgressExpiry < :nowMs)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':now': now / 1000, ':nowMs': now, ':inProgress': 'INPROGRESS' },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const existing = error.Item ? toRecord(unmarshall(error.Item)) : undefined;
        throw new IdempotencyItemAlreadyExistsError(
          `Idempotency key ${record.idempotencyKey} is taken.`,
          existing,
        );
      }
      throw error;
    }
  }

  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    await this.dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: keyOf(record.idempotencyKey),
        UpdateExpression:
          'SET expiresAt = :expiry, #status = :status, responseData = :data, payloadHash = :hash',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':expiry': record.expiryTimestamp,
          ':status': record.getStatus(),
          ':data': record.responseData ?? null,
          ':hash': record.payloadHash ?? null,
        },
      }),
    );
  }

  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    await this.dynamo.send(new DeleteCommand({ TableName: this.table, Key: keyOf(record.idempotencyKey) }));
  }
}

function keyOf(idempotencyKey: string): { pk: string; sk: string } {
  return { pk: `idempotency#${idempotencyKey}`, sk: 'idempotency' };
}

function toRecord(item: Record<string, unknown>): IdempotencyRecord {
  return new IdempotencyRecord({
    idempotencyKey: (item.pk as string).slice('idempotency#'.length),
    status: item.status as never,
    expiryTimestamp: item.expiresAt as number | undefined,
    inProgressExpiryTimestamp: item.inProgressExpiry as number | undefined,
    responseData: (item.responseData ?? undefined) as never,
    payloadHash: (item.payloadHash ?? undefined) as string | undefined,
  });
}
