import { type NetworkPolicy, parseNetworkPolicy } from './delivery/network-policy';
import { DEFAULT_MAX_RETENTION_HOURS, MIN_RETENTION_HOURS } from './registry/topic-registry';
import type { SegmentCodec } from './segment/codec';
import {
  delivererFunction,
  groupsTable,
  logTable,
  registryTable,
  segmentBucket,
  settingsEnv,
} from './topology';

/** Where the bus keeps its state and the limits it enforces; read once per process from the environment. */
export interface BusConfig {
  readonly logTable: string;
  readonly groupsTable: string;
  readonly registryTable: string;
  readonly bucket: string;
  /** Segments at or under this many bytes are stored inline in the log item; larger ones go to S3. */
  readonly inlineThresholdBytes: number;
  /** How long a cached partition head is trusted before it is read again. */
  readonly headCacheMs: number;
  /** Conditional-write attempts per segment before the append gives up with a retryable error. */
  readonly appendAttempts: number;
  /** Compression of new segments; readers handle every codec whatever this says. */
  readonly segmentCodec: SegmentCodec;
  /** Which webhook addresses subscriptions may reach (`EVENTBUS_WEBHOOK_ALLOW`); AWS allows only public HTTPS. */
  readonly webhookPolicy: NetworkPolicy;
  /** The function that delivers one cursor, woken asynchronously (docs/adr/0005). */
  readonly delivererFunction: string;
  /** The delay after an event's first failed delivery, before jitter; it doubles per attempt. */
  readonly retryBaseMs: number;
  /** The longest retention a topic may have: what the bucket's lifecycle keeps. */
  readonly maxRetentionHours: number;
}

const DEFAULT_INLINE_THRESHOLD = 8 * 1024;
/** An inline segment must leave room for the item's other attributes within DynamoDB's 400 KB. */
export const MAX_INLINE_THRESHOLD_BYTES = 350_000;

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set.`);
  return value;
}

function intOr(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer, got "${raw}".`);
  return value;
}

function inlineThreshold(env: NodeJS.ProcessEnv): number {
  const value = intOr(env, settingsEnv.inlineThresholdBytes, DEFAULT_INLINE_THRESHOLD);
  if (value < 1 || value > MAX_INLINE_THRESHOLD_BYTES) {
    throw new Error(
      `${settingsEnv.inlineThresholdBytes} must be from 1 to ${MAX_INLINE_THRESHOLD_BYTES}, got ${value}.`,
    );
  }
  return value;
}

function maxRetentionHours(env: NodeJS.ProcessEnv): number {
  const value = intOr(env, settingsEnv.maxRetentionHours, DEFAULT_MAX_RETENTION_HOURS);
  if (value < MIN_RETENTION_HOURS) {
    throw new Error(
      `${settingsEnv.maxRetentionHours} must be at least ${MIN_RETENTION_HOURS}, got ${value}.`,
    );
  }
  return value;
}

const CODECS: readonly SegmentCodec[] = ['none', 'gzip', 'deflate-raw', 'brotli'];

function codecOf(raw: string | undefined): SegmentCodec {
  if (raw === undefined || raw === '') return 'none';
  if ((CODECS as readonly string[]).includes(raw)) return raw as SegmentCodec;
  throw new Error(`EVENTBUS_SEGMENT_CODEC must be one of ${CODECS.join(', ')}, got "${raw}".`);
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): BusConfig {
  return {
    logTable: required(env, logTable.envVar),
    groupsTable: required(env, groupsTable.envVar),
    registryTable: required(env, registryTable.envVar),
    bucket: required(env, segmentBucket.envVar),
    inlineThresholdBytes: inlineThreshold(env),
    headCacheMs: intOr(env, 'EVENTBUS_HEAD_CACHE_MS', 5_000),
    appendAttempts: intOr(env, 'EVENTBUS_APPEND_ATTEMPTS', 8),
    segmentCodec: codecOf(env.EVENTBUS_SEGMENT_CODEC),
    webhookPolicy: parseNetworkPolicy(env[settingsEnv.webhookAllow]),
    delivererFunction: env[settingsEnv.delivererFunction] ?? delivererFunction.id,
    retryBaseMs: intOr(env, settingsEnv.retryBaseMs, 1_000),
    maxRetentionHours: maxRetentionHours(env),
  };
}
