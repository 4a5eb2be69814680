import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { queryAll } from '../aws/query-all';
import { InvalidRequestError } from '../errors';
import { type CompatibilityMode, checkCompatibility, type JsonSchema } from './compatibility';
import { SchemaIncompatibleError } from './schema-errors';
import { assertUsableSchema, SCHEMA_LIMITS } from './schema-validator';

/** One registered version of a topic's schema. */
export interface SchemaVersion {
  readonly version: number;
  readonly schema: unknown;
  readonly createdAt: string;
}

const DEFAULT_MODE: CompatibilityMode = 'BACKWARD';
/** Attempts at a registration that keeps losing the race for the next version. */
const REGISTER_ATTEMPTS = 5;

/**
 * Topic schemas in the registry table: each version an immutable item at
 * `pk = "schema#<topic>"`, `sk = "v" + 10-digit version` (so the latest is
 * the first of a descending query), and the topic's mode at `sk = "mode"`.
 *
 *   register ─► read versions ─► equal to the latest? ─ yes ─► its version (200)
 *                                     └ no ─► compatible with the mode? ─ no ─► 409 + reasons
 *                                              └ yes ─► put v(n+1) if absent ─ lost ─► read again (the
 *                                                        │                           winner is now checked too)
 *                                                        └ won ─► set the mode if given ─► version (201)
 */
export class SchemaRegistry {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Registers `schema` as the topic's next version (or finds it is the latest).
   * With `anyVersion`, a schema equal to any earlier version is that version,
   * as Confluent's registry answers one already registered: nothing is added
   * and the latest stays the one enforced (a deployment's rollback: see
   * `applyDeclaration`).
   */
  async register(
    topic: string,
    schema: unknown,
    compatibility?: CompatibilityMode,
    options: { readonly anyVersion?: boolean } = {},
  ): Promise<{ version: number; created: boolean; compatibility: CompatibilityMode }> {
    assertUsableSchema(schema);
    for (let attempt = 1; ; attempt++) {
      const [versions, stored] = await Promise.all([this.versions(topic), this.mode(topic)]);
      const mode = compatibility ?? stored;
      const latest = versions.at(-1);
      const text = canonical(schema);
      const same = options.anyVersion
        ? versions.find((v) => canonical(v.schema) === text)
        : latest && canonical(latest.schema) === text
          ? latest
          : undefined;
      if (same) {
        if (compatibility && compatibility !== stored) await this.setMode(topic, compatibility);
        return { version: same.version, created: false, compatibility: mode };
      }
      const reasons = checkCompatibility(
        schema as JsonSchema,
        versions.map((v) => v.schema as JsonSchema),
        mode,
      );
      if (reasons.length > 0) throw new SchemaIncompatibleError(reasons);
      if (versions.length >= SCHEMA_LIMITS.maxVersions) {
        throw new InvalidRequestError(`A topic keeps at most ${SCHEMA_LIMITS.maxVersions} schema versions.`);
      }
      const version = (latest?.version ?? 0) + 1;
      try {
        await this.dynamo.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              pk: schemaPk(topic),
              sk: versionSk(version),
              version,
              schema: JSON.stringify(schema),
              createdAt: new Date(this.now()).toISOString(),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      } catch (error) {
        // Another registration took this version: check against it too, then try the next.
        if (error instanceof ConditionalCheckFailedException && attempt < REGISTER_ATTEMPTS) continue;
        throw error;
      }
      if (compatibility && compatibility !== stored) await this.setMode(topic, compatibility);
      return { version, created: true, compatibility: mode };
    }
  }

  /** Every version, oldest first (strongly consistent: a registration checks against what it read). */
  async versions(topic: string): Promise<SchemaVersion[]> {
    const items = await queryAll(this.dynamo, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :v)',
      ExpressionAttributeValues: { ':pk': schemaPk(topic), ':v': 'v' },
      ConsistentRead: true,
    });
    return items.map(toVersion);
  }

  /** The latest version, or undefined when the topic has no schema. */
  async latest(topic: string): Promise<SchemaVersion | undefined> {
    const result = await this.dynamo.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :v)',
        ExpressionAttributeValues: { ':pk': schemaPk(topic), ':v': 'v' },
        ScanIndexForward: false,
        Limit: 1,
      }),
    );
    const item = result.Items?.[0];
    return item ? toVersion(item) : undefined;
  }

  async version(topic: string, version: number): Promise<SchemaVersion | undefined> {
    const result = await this.dynamo.send(
      new GetCommand({ TableName: this.table, Key: { pk: schemaPk(topic), sk: versionSk(version) } }),
    );
    return result.Item ? toVersion(result.Item) : undefined;
  }

  /** The topic's compatibility mode (BACKWARD until one is given). */
  async mode(topic: string): Promise<CompatibilityMode> {
    const result = await this.dynamo.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: schemaPk(topic), sk: 'mode' },
        ConsistentRead: true,
      }),
    );
    return (result.Item?.compatibility as CompatibilityMode | undefined) ?? DEFAULT_MODE;
  }

  private async setMode(topic: string, compatibility: CompatibilityMode): Promise<void> {
    await this.dynamo.send(
      new PutCommand({ TableName: this.table, Item: { pk: schemaPk(topic), sk: 'mode', compatibility } }),
    );
  }
}

function schemaPk(topic: string): string {
  return `schema#${topic}`;
}

function versionSk(version: number): string {
  return `v${String(version).padStart(10, '0')}`;
}

function toVersion(item: Record<string, unknown>): SchemaVersion {
  return {
    version: item.version as number,
    schema: JSON.parse(item.schema as string),
    createdAt: item.createdAt as string,
  };
}

/** JSON with object keys sorted: two schemas that differ only in key order are the same version. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}
