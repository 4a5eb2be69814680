import type { SegmentCodec } from './segment/codec';

/**
 * Every setting the bus reads from its environment, in one place: the
 * variable's name, the default and the parsing. The functions read them with
 * `configFromEnv`; the CDK construct writes them with `settingsEnvironment`,
 * giving each function only the settings its definition in `topology.ts` names;
 * local mode passes its environment through. It imports neither the topology
 * nor delivery code: they import it.
 */

/** A Lambda invocation, and so a Function URL request or answer, carries at most 6 MB (6 MiB). */
export const LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** An inline segment must leave room for the item's other attributes within DynamoDB's 400 KB. */
export const MAX_INLINE_THRESHOLD_BYTES = 350_000;
/** Retention has a floor of 24 h so that a partition's floor is always raised before its last segment can expire. */
export const MIN_RETENTION_HOURS = 24;

/**
 * Which webhook targets a deployment may reach. A subscription is created by
 * a key holder, but the request is made from inside the deployment: without
 * this, a subscription could make the bus call its own metadata endpoint or
 * private services (SSRF). AWS deployments allow neither; local mode allows
 * loopback over plain HTTP so a developer's own server can be the target.
 * Enforced by shared/delivery/network-policy.ts.
 */
export interface NetworkPolicy {
  /** 127.0.0.0/8 and ::1. */
  readonly allowLoopback: boolean;
  /** Private, link-local, unique-local, carrier-grade NAT and other non-public ranges. */
  readonly allowPrivate: boolean;
  /** Plain `http:` URLs as well as `https:`. */
  readonly allowHttp: boolean;
}

/** Parses `EVENTBUS_WEBHOOK_ALLOW`: a comma-separated list of `loopback`, `private`, `http`. */
export function parseNetworkPolicy(raw: string | undefined): NetworkPolicy {
  const words = (raw ?? '')
    .split(',')
    .map((word) => word.trim())
    .filter(Boolean);
  for (const word of words) {
    if (!['loopback', 'private', 'http'].includes(word)) {
      throw new Error(`EVENTBUS_WEBHOOK_ALLOW takes "loopback", "private" and "http", got "${word}".`);
    }
  }
  return {
    allowLoopback: words.includes('loopback'),
    allowPrivate: words.includes('private'),
    allowHttp: words.includes('http'),
  };
}

/** The environment variables through which functions learn where the bus keeps its state (shared/topology.ts). */
export const STATE_ENV = {
  logTable: 'EVENTBUS_LOG_TABLE',
  groupsTable: 'EVENTBUS_GROUPS_TABLE',
  registryTable: 'EVENTBUS_REGISTRY_TABLE',
  bucket: 'EVENTBUS_BUCKET',
  /** The queue of lease wakes (docs/adr/0019); unset, no wake is armed and the sweep alone takes over. */
  leaseWakeQueue: 'EVENTBUS_LEASE_WAKE_QUEUE_URL',
} as const;

interface Setting<T> {
  /** The environment variable. */
  readonly env: string;
  readonly default: T;
  /** Turns the variable's text into the value; throws saying what is wrong. */
  readonly parse: (raw: string, env: string) => T;
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string, env: string): number => {
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`${env} must be an integer from ${min} to ${max}, got "${raw}".`);
    }
    return value;
  };
}

function oneOf<T extends string>(...values: T[]) {
  return (raw: string, env: string): T => {
    if (!values.includes(raw as T)) {
      throw new Error(`${env} must be one of ${values.map((v) => `"${v}"`).join(', ')}, got "${raw}".`);
    }
    return raw as T;
  };
}

const text = (raw: string): string => raw;

function flag(raw: string, env: string): boolean {
  if (raw !== 'true' && raw !== 'false') throw new Error(`${env} must be "true" or "false", got "${raw}".`);
  return raw === 'true';
}

function setting<T>(env: string, fallback: T, parse: (raw: string, env: string) => T): Setting<T> {
  return { env, default: fallback, parse };
}

export const SETTINGS = {
  /** Segments at or under this many bytes are stored inline in the log item; larger ones go to S3. */
  inlineThresholdBytes: setting(
    'EVENTBUS_INLINE_THRESHOLD_BYTES',
    8 * 1024,
    integer(1, MAX_INLINE_THRESHOLD_BYTES),
  ),
  /** How long a cached partition head is trusted before it is read again, in ms. */
  headCacheMs: setting('EVENTBUS_HEAD_CACHE_MS', 5_000, integer(0)),
  /** Conditional-write attempts per segment before the append gives up with a retryable error. */
  appendAttempts: setting('EVENTBUS_APPEND_ATTEMPTS', 8, integer(1, 100)),
  /** Compression of new segments; readers handle every codec whatever this says. */
  segmentCodec: setting<SegmentCodec>(
    'EVENTBUS_SEGMENT_CODEC',
    'none',
    oneOf('none', 'gzip', 'deflate-raw', 'brotli'),
  ),
  /** Webhook addresses beyond public HTTPS that subscriptions may reach: `loopback`, `private`, `http`. */
  webhookAllow: setting<NetworkPolicy>('EVENTBUS_WEBHOOK_ALLOW', parseNetworkPolicy(undefined), (raw) =>
    parseNetworkPolicy(raw),
  ),
  /** The function that delivers one cursor, woken asynchronously (docs/adr/0005). */
  delivererFunction: setting('EVENTBUS_DELIVERER_FUNCTION', 'Deliverer', text),
  /** The delay after an event's first failed delivery, in ms, before jitter; it doubles per attempt. */
  retryBaseMs: setting('EVENTBUS_RETRY_BASE_MS', 1_000, integer(1)),
  /** The longest retention a topic may have, in hours: what the bucket's lifecycle keeps. 30 days. */
  maxRetentionHours: setting('EVENTBUS_MAX_RETENTION_HOURS', 30 * 24, integer(MIN_RETENTION_HOURS)),
  /** The admin key itself: local mode only (on AWS it lives in Secrets Manager). */
  adminKey: setting('EVENTBUS_ADMIN_KEY', '', text),
  /** ARN of the Secrets Manager secret holding the admin key. */
  adminKeySecretArn: setting('EVENTBUS_ADMIN_KEY_SECRET_ARN', '', text),
  /** How long an instance trusts the admin key it read from Secrets Manager, in seconds: rotation reaches every instance within it. */
  adminKeyMaxAgeSeconds: setting('EVENTBUS_ADMIN_KEY_MAX_AGE_SECONDS', 300, integer(0)),
  /**
   * Whether the API logs every request (one line of about 300 bytes: $0.14 per million requests in CloudWatch
   * Logs ingestion) or only those that fail with a 5xx.
   */
  accessLog: setting('EVENTBUS_ACCESS_LOG', false, flag),
  /** Events one publish request may hold. */
  maxEvents: setting('EVENTBUS_MAX_EVENTS', 1_000, integer(1)),
  /** Bytes of one event's value. */
  maxValueBytes: setting('EVENTBUS_MAX_VALUE_BYTES', 1024 * 1024, integer(1)),
  /** Bytes of one publish request: under the Lambda payload, leaving room for the event's envelope. */
  maxRequestBytes: setting('EVENTBUS_MAX_REQUEST_BYTES', 6_000_000, integer(1, LAMBDA_PAYLOAD_BYTES)),
  /** Bytes of one event's key. */
  maxKeyBytes: setting('EVENTBUS_MAX_KEY_BYTES', 4 * 1024, integer(1)),
  /** Headers of one event. */
  maxHeaders: setting('EVENTBUS_MAX_HEADERS', 64, integer(1)),
  /** Sum of header names and values of one event, in bytes. */
  maxHeaderBytes: setting('EVENTBUS_MAX_HEADER_BYTES', 16 * 1024, integer(1)),
} as const;

export type SettingName = keyof typeof SETTINGS;

/** What one publish request may carry (shared/publish/limits.ts reads them). */
export const PUBLISH_LIMIT_SETTINGS = [
  'maxEvents',
  'maxValueBytes',
  'maxRequestBytes',
  'maxKeyBytes',
  'maxHeaders',
  'maxHeaderBytes',
] as const satisfies readonly SettingName[];
export type Settings = { readonly [K in SettingName]: (typeof SETTINGS)[K]['default'] };

/** Reads one setting: its default when the variable is unset or empty. */
export function settingFromEnv<K extends SettingName>(
  name: K,
  env: NodeJS.ProcessEnv = process.env,
): Settings[K] {
  const { env: variable, default: fallback, parse } = SETTINGS[name] as Setting<Settings[K]>;
  const raw = env[variable];
  return raw === undefined || raw === '' ? fallback : parse(raw, variable);
}

/**
 * The environment that gives a function the settings it reads: each named
 * setting's value as text, for those given. Values are checked as the
 * function would check them, so a bad one fails at synthesis, not at run time.
 */
export function settingsEnvironment(
  names: readonly SettingName[],
  values: { readonly [K in SettingName]?: string | number },
): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const name of names) {
    const value = values[name];
    if (value === undefined) continue;
    const { env, parse } = SETTINGS[name] as Setting<unknown>;
    // Tokens (names of resources the stack creates) are only known at deploy time.
    if (!/\$\{Token\[/.test(String(value))) parse(String(value), env);
    environment[env] = String(value);
  }
  return environment;
}

/** Where the bus keeps its state and the settings it runs by; read once per process from the environment. */
export interface BusConfig {
  readonly logTable: string;
  readonly groupsTable: string;
  readonly registryTable: string;
  readonly bucket: string;
  /** The URL of the lease-wake queue, for the functions that arm or consume lease wakes; undefined elsewhere. */
  readonly leaseWakeQueue?: string;
  readonly inlineThresholdBytes: number;
  readonly headCacheMs: number;
  readonly appendAttempts: number;
  readonly segmentCodec: SegmentCodec;
  /** Which webhook addresses subscriptions may reach; AWS allows only public HTTPS. */
  readonly webhookPolicy: NetworkPolicy;
  readonly delivererFunction: string;
  readonly retryBaseMs: number;
  readonly maxRetentionHours: number;
}

/**
 * The configuration from the environment. A function is given only the
 * tables it uses, so a table's name is required when it is first used,
 * not when the configuration is read.
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): BusConfig {
  const named = (variable: string) => () => {
    const value = env[variable];
    if (!value) throw new Error(`Environment variable ${variable} is not set.`);
    return value;
  };
  const config = {
    inlineThresholdBytes: settingFromEnv('inlineThresholdBytes', env),
    headCacheMs: settingFromEnv('headCacheMs', env),
    appendAttempts: settingFromEnv('appendAttempts', env),
    segmentCodec: settingFromEnv('segmentCodec', env),
    webhookPolicy: settingFromEnv('webhookAllow', env),
    delivererFunction: settingFromEnv('delivererFunction', env),
    retryBaseMs: settingFromEnv('retryBaseMs', env),
    maxRetentionHours: settingFromEnv('maxRetentionHours', env),
    leaseWakeQueue: env[STATE_ENV.leaseWakeQueue] || undefined,
  };
  return Object.defineProperties(config, {
    logTable: { get: named(STATE_ENV.logTable), enumerable: true },
    groupsTable: { get: named(STATE_ENV.groupsTable), enumerable: true },
    registryTable: { get: named(STATE_ENV.registryTable), enumerable: true },
    bucket: { get: named(STATE_ENV.bucket), enumerable: true },
  }) as BusConfig;
}
