import { NotFoundError, TopicNotFoundError } from '../errors';
import type { TopicRegistry } from '../registry/topic-registry';
import type { CompatibilityMode } from '../schemas/compatibility';
import type { SchemaRegistry, SchemaVersion } from '../schemas/schema-registry';
import type { TopicSchemas } from '../schemas/topic-schemas';

/**
 * The topics' schemas, for the HTTP API (docs/api.md, Schemas): register a
 * version under the topic's compatibility mode, read the latest, the list and
 * one version. A new version is enforced at once by this instance's publishes.
 */
export class SchemaService {
  constructor(
    private readonly registry: SchemaRegistry,
    private readonly topics: Pick<TopicRegistry, 'find'>,
    private readonly enforced: Pick<TopicSchemas, 'forget'>,
  ) {}

  /**
   * Registers the topic's next version under its mode (SCHEMA_INCOMPATIBLE
   * with the reasons otherwise); `anyVersion` as `SchemaRegistry.register` says.
   */
  async register(
    topic: string,
    schema: unknown,
    compatibility?: CompatibilityMode,
    options: { readonly anyVersion?: boolean } = {},
  ) {
    await this.requireTopic(topic);
    const registered = await this.registry.register(topic, schema, compatibility, options);
    this.enforced.forget(topic);
    return registered;
  }

  /** The latest version with the topic's mode; NOT_FOUND when the topic has no schema. */
  async latest(topic: string): Promise<SchemaVersion & { compatibility: CompatibilityMode }> {
    await this.requireTopic(topic);
    const [latest, compatibility] = await Promise.all([
      this.registry.latest(topic),
      this.registry.mode(topic),
    ]);
    if (!latest)
      throw new NotFoundError(
        `Topic "${topic}" has no schema; register one with PUT /topics/${topic}/schema.`,
      );
    return { ...latest, compatibility };
  }

  async versions(topic: string): Promise<{ version: number; createdAt: string }[]> {
    await this.requireTopic(topic);
    return (await this.registry.versions(topic)).map(({ version, createdAt }) => ({ version, createdAt }));
  }

  async version(topic: string, version: number): Promise<SchemaVersion> {
    await this.requireTopic(topic);
    const found = await this.registry.version(topic, version);
    if (!found) throw new NotFoundError(`Topic "${topic}" has no schema version ${version}.`);
    return found;
  }

  private async requireTopic(topic: string): Promise<void> {
    if (!(await this.topics.find(topic))) throw new TopicNotFoundError(topic);
  }
}
