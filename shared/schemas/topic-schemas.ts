import type { ValidateFunction } from 'ajv/dist/2020';
import { LRUCache } from 'lru-cache';
import { SchemaViolationError } from './schema-errors';
import type { SchemaRegistry } from './schema-registry';
import { createSchemaValidator } from './schema-validator';

/** A value as publish sees it: its JSON text, or undefined when it is not JSON. */
export type PublishedValue = string | undefined;

interface CompiledVersion {
  readonly version: number;
  readonly validate: ValidateFunction;
}

/**
 * The schemas the publish path enforces, compiled once per (topic, version)
 * and kept in a bounded LRU. Which version is the latest is cached for a few
 * seconds, like the topic cache: a new version is enforced by every instance
 * within `latestTtlMs` of its registration (at once on the instance that
 * registered it, which calls `forget`).
 */
export class TopicSchemas {
  private readonly latest: LRUCache<string, { version?: number }>;
  private readonly compiled: LRUCache<string, CompiledVersion>;

  constructor(
    private readonly registry: SchemaRegistry,
    options: {
      /** How long which version is the latest is trusted. @default 10 s */
      latestTtlMs?: number;
      maxCompiled?: number;
      /** The clock the window runs on (ms). @default performance.now */
      now?: () => number;
    } = {},
  ) {
    this.latest = new LRUCache({
      max: 10_000,
      ttl: options.latestTtlMs ?? 10_000,
      // An injected clock is read each time: lru-cache otherwise reuses a reading for a real millisecond.
      ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
    });
    this.compiled = new LRUCache({ max: options.maxCompiled ?? 500 });
  }

  /**
   * Checks every value against the topic's latest schema, in order; throws
   * SCHEMA_VIOLATION at the first that fails. Returns the version checked
   * (for the `eventbus-schema-version` header), or undefined without a schema.
   */
  async check(topic: string, values: readonly PublishedValue[]): Promise<number | undefined> {
    const schema = await this.current(topic);
    if (!schema) return undefined;
    values.forEach((text, index) => {
      if (text === undefined) {
        throw new SchemaViolationError(index, '', 'type', schema.version, 'the value is not JSON');
      }
      if (!schema.validate(JSON.parse(text))) {
        const error = schema.validate.errors?.[0];
        throw new SchemaViolationError(
          index,
          error?.instancePath || '',
          `${error?.schemaPath ?? '#'}`,
          schema.version,
          error?.message ?? 'does not match',
        );
      }
    });
    return schema.version;
  }

  /** Drops what this instance knows of a topic's latest version (after registering one). */
  forget(topic: string): void {
    this.latest.delete(topic);
  }

  private async current(topic: string): Promise<CompiledVersion | undefined> {
    let known = this.latest.get(topic);
    if (!known) {
      const latest = await this.registry.latest(topic);
      known = { version: latest?.version };
      this.latest.set(topic, known);
      if (latest && !this.compiled.has(`${topic}@${latest.version}`)) {
        this.compiled.set(`${topic}@${latest.version}`, {
          version: latest.version,
          validate: createSchemaValidator(latest.schema),
        });
      }
    }
    if (known.version === undefined) return undefined;
    const key = `${topic}@${known.version}`;
    let compiled = this.compiled.get(key);
    if (!compiled) {
      const stored = await this.registry.version(topic, known.version);
      if (!stored) return undefined;
      compiled = { version: stored.version, validate: createSchemaValidator(stored.schema) };
      this.compiled.set(key, compiled);
    }
    return compiled;
  }
}
