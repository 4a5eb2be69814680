import { z } from 'zod';
import { PERMISSIONS, TOPIC_PATTERN } from '../../../shared/auth/acl';
import { MAX_ACL_ENTRIES, MAX_DESCRIPTION_LENGTH } from '../../../shared/auth/new-api-key';
import { MIN_RETENTION_HOURS, SETTINGS } from '../../../shared/config';
import { MAX_ATTEMPTS, MAX_BATCH_SIZE, MAX_TIMEOUT_SECONDS } from '../../../shared/delivery/subscription';
import { MAX_PARTITIONS } from '../../../shared/registry/topic-registry';

/**
 * The API's schemas, once: requests are validated with them and the OpenAPI
 * document (docs/openapi.json) is generated from them. Messages are the
 * API's own (docs/api.md): each says what to fix. Schemas read only own
 * members, since request bodies arrive as null-prototype objects
 * (functions/api/request.ts).
 */

const NAME_PATTERN = /^[A-Za-z0-9._-]{1,200}$/;
const NAME_RULE = 'use 1 to 200 characters from A-Z, a-z, 0-9, ".", "_" and "-"';

function name(kind: 'topic' | 'group') {
  return z
    .string()
    .regex(NAME_PATTERN, {
      error: (issue) => `The ${kind} name "${String(issue.input).slice(0, 220)}" is invalid: ${NAME_RULE}.`,
    })
    .meta({ description: `A ${kind} name: ${NAME_RULE}.`, example: kind === 'topic' ? 'orders' : 'billing' });
}

export const TopicName = name('topic');
export const GroupName = name('group');

/** An integer from `min` to `max` whose every failure reads `message`. */
function integer(min: number, max: number, message: string) {
  return z.int({ error: message }).min(min, { error: message }).max(max, { error: message });
}

// ---------------------------------------------------------------- errors

export const ErrorBody = z
  .object({
    error: z
      .looseObject({
        code: z.string().meta({ description: 'Stable, SNAKE_CASE.', example: 'INVALID_REQUEST' }),
        message: z.string().meta({ description: 'What went wrong and what to fix.' }),
      })
      .meta({ description: 'Some codes add details, e.g. OFFSET_OUT_OF_RANGE its `startOffset`.' }),
  })
  .meta({ id: 'Error' });

// ---------------------------------------------------------------- topics

export const TopicPath = z.object({ topic: TopicName });

const RETENTION_MESSAGE = `"retentionHours" must be an integer of at least ${MIN_RETENTION_HOURS} (and at most this deployment's longest retention, ${SETTINGS.maxRetentionHours.default} by default).`;
export const TopicConfigBody = z
  .strictObject(
    {
      partitions: integer(1, MAX_PARTITIONS, `"partitions" must be an integer from 1 to ${MAX_PARTITIONS}.`),
      retentionHours: integer(MIN_RETENTION_HOURS, Number.MAX_SAFE_INTEGER, RETENTION_MESSAGE).meta({
        description: `At least ${MIN_RETENTION_HOURS}; at most the deployment's longest retention (720 h by default).`,
      }),
    },
    { error: 'The body must be an object: {"partitions": 1..256, "retentionHours": >=24}.' },
  )
  .meta({ id: 'TopicConfigRequest', example: { partitions: 3, retentionHours: 48 } });

export const Topic = z
  .object({ name: TopicName, partitions: z.int().min(1), retentionHours: z.int().min(MIN_RETENTION_HOURS) })
  .meta({ id: 'Topic' });

export const TopicList = z.object({ topics: z.array(Topic) }).meta({ id: 'TopicList' });

export const TopicDescription = z
  .object({
    name: TopicName,
    partitions: z.array(
      z.object({
        partition: z.int().min(0),
        startOffset: z.int().min(0).meta({ description: 'The oldest retained offset.' }),
        endOffset: z.int().min(0).meta({ description: 'The offset the next event will get.' }),
      }),
    ),
    retentionHours: z.int(),
  })
  .meta({ id: 'TopicDescription' });

// ---------------------------------------------------------------- publish

const Headers = z
  .record(z.string(), z.string())
  .meta({ description: 'String headers; any name, `__proto__` included, is kept as sent.' });

export const JsonEventsBody = z
  .strictObject({
    events: z
      .array(
        z.strictObject({
          key: z.string().nullable().optional().meta({ description: 'Chooses the partition (murmur2).' }),
          value: z.unknown().meta({ description: 'Any JSON; stored as the exact text sent.' }),
          headers: Headers.nullable().optional(),
          partition: z.int().min(0).nullable().optional(),
        }),
      )
      .meta({ description: 'At most 1000 events, 1 MiB per value, 6 MB per request.' }),
  })
  .meta({
    id: 'PublishRequest',
    example: { events: [{ key: 'order-1', value: { total: 10 }, headers: { source: 'shop' } }] },
  });

export const CloudEvent = z
  .looseObject({
    specversion: z.literal('1.0'),
    id: z.string().min(1),
    source: z.string().min(1),
    type: z.string().min(1),
    datacontenttype: z.string().optional(),
    dataschema: z.string().optional(),
    subject: z.string().optional(),
    time: z.string().optional().meta({ description: 'RFC 3339 with an offset.' }),
    partitionkey: z.string().optional().meta({ description: 'Extension: the event key.' }),
    data: z.unknown().optional(),
    data_base64: z.string().optional(),
  })
  .meta({
    id: 'CloudEvent',
    description: 'A structured-mode CloudEvent 1.0; other members are extensions (a-z, 0-9).',
    example: { specversion: '1.0', id: 'e-1', source: '/shop', type: 'order.placed', data: { total: 10 } },
  });

const PublishResult = z.union([z.object({ partition: z.int().min(0), offset: z.int().min(0) }), ErrorBody]);
export const PublishAnswer = z
  .object({
    results: z
      .array(PublishResult)
      .meta({ description: "In request order: each event's partition and offset, or (503) its error." }),
  })
  .meta({ id: 'PublishResponse' });

// ---------------------------------------------------------------- read

export const ReadPath = z.object({
  topic: TopicName,
  partition: z
    .string()
    .meta({ description: 'From 0 to partitions - 1; any other is 404 NOT_FOUND.', example: '0' }),
});

export const EventView = z
  .object({
    offset: z.int().min(0),
    timestamp: z.string().meta({ description: 'ISO-8601, when the event was appended.' }),
    key: z.string().nullable(),
    value: z.unknown().meta({ description: 'JSON as published, a string for text/*, else base64.' }),
    headers: z.record(z.string(), z.string()),
    valueEncoding: z.literal('base64').optional(),
  })
  .meta({ id: 'Event' });

export const ReadAnswer = z
  .object({
    events: z.array(EventView),
    nextOffset: z.int().min(0).meta({
      description:
        'Where the next read starts: read on from it, not from the last offset plus one. Offsets are dense but for gaps (offsets that hold no event), which a read steps over.',
    }),
  })
  .meta({ id: 'ReadResponse' });

// ---------------------------------------------------------------- keys

const ACL_SHAPE =
  '{"acl": [{"topics": "<pattern>", "permissions": ["publish" | "read" | "admin", …]}, …], "description"?: string}';
const PATTERN_RULE =
  'a topic name pattern of 1 to 200 characters from A-Z, a-z, 0-9, ".", "_", "-" and "*" (any run of name characters)';

const AclEntry = z
  .strictObject(
    {
      topics: z
        .string({ error: (issue) => `"${where(issue.path)}" must be ${PATTERN_RULE}.` })
        .regex(TOPIC_PATTERN, {
          error: (issue) =>
            `"${where(issue.path)}" must be ${PATTERN_RULE}, got ${JSON.stringify(issue.input)?.slice(0, 220)}.`,
        })
        .meta({ example: 'orders*' }),
      permissions: z
        .array(
          z.enum(PERMISSIONS, {
            error: (issue) =>
              `"${where(issue.path?.slice(0, -1))}" holds ${JSON.stringify(issue.input)?.slice(0, 60)}; use "publish", "read" or "admin".`,
          }),
          {
            error: (issue) =>
              `"${where(issue.path)}" must be a non-empty array of "publish", "read", "admin".`,
          },
        )
        .min(1, {
          error: (issue) => `"${where(issue.path)}" must be a non-empty array of "publish", "read", "admin".`,
        })
        .refine((permissions) => new Set(permissions).size === permissions.length, {
          error: (issue) => `"${where(issue.path)}" names a permission twice.`,
        }),
    },
    {
      error: (issue) =>
        `"${where(issue.path)}" must be an object: {"topics": "<pattern>", "permissions": [...]}.`,
    },
  )
  .meta({ id: 'AclEntry', description: '`admin` implies `publish` and `read` on the same topics.' });

export const NewKeyBody = z
  .strictObject(
    {
      acl: z
        .array(AclEntry, {
          error: `"acl" must be an array of 1 to ${MAX_ACL_ENTRIES} entries: ${ACL_SHAPE}.`,
        })
        .min(1, { error: `"acl" must be an array of 1 to ${MAX_ACL_ENTRIES} entries: ${ACL_SHAPE}.` })
        .max(MAX_ACL_ENTRIES, {
          error: `"acl" must be an array of 1 to ${MAX_ACL_ENTRIES} entries: ${ACL_SHAPE}.`,
        }),
      description: z
        .string({ error: `"description" must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters.` })
        .max(MAX_DESCRIPTION_LENGTH, {
          error: `"description" must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters.`,
        })
        .optional(),
    },
    { error: `The body must be an object: ${ACL_SHAPE}.` },
  )
  .meta({
    id: 'NewKeyRequest',
    example: { acl: [{ topics: 'orders*', permissions: ['publish', 'read'] }], description: 'shop' },
  });

export const CreatedKey = z
  .object({
    id: z.string(),
    key: z.string().meta({ description: 'Shown only in this answer; stored only as a hash.' }),
  })
  .meta({ id: 'CreatedKey' });

export const KeyList = z
  .object({
    keys: z.array(
      z.object({
        id: z.string(),
        acl: z.array(AclEntry),
        description: z.string().nullable(),
        createdAt: z.string(),
      }),
    ),
  })
  .meta({ id: 'KeyList' });

export const KeyPath = z.object({ id: z.string().meta({ description: 'The key id, from GET /keys.' }) });

// ---------------------------------------------------------------- subscriptions

export const GroupPath = z.object({ group: GroupName });

const TARGET_MESSAGE =
  '"target" must be {"type": "lambda", "function": name-or-ARN} or {"type": "webhook", "url": "https://…"}.';
const Target = z.discriminatedUnion(
  'type',
  [
    z
      .strictObject(
        {
          type: z.literal('lambda'),
          function: z.string().meta({ description: 'A function name or (qualified) ARN.' }),
        },
        { error: 'A lambda target is {"type": "lambda", "function": a function name or ARN}, nothing else.' },
      )
      .meta({ id: 'LambdaTarget' }),
    z
      .strictObject(
        { type: z.literal('webhook'), url: z.string().meta({ description: 'https; no private addresses.' }) },
        { error: 'A webhook target is {"type": "webhook", "url": "https://…"}, nothing else.' },
      )
      .meta({ id: 'WebhookTarget' }),
  ],
  {
    error: (issue) =>
      typeof issue.input === 'object' && issue.input !== null
        ? '"target.type" must be "lambda" or "webhook".'
        : TARGET_MESSAGE,
  },
);

function oneOf<const T extends readonly [string, ...string[]]>(field: string, values: T) {
  return z.enum(values, { error: `"${field}" must be one of ${values.map((v) => `"${v}"`).join(', ')}.` });
}

export const SubscriptionBody = z
  .strictObject(
    {
      topic: z.string({ error: '"topic" must be a topic name.' }).meta({ example: 'orders' }),
      target: Target,
      batchSize: integer(1, MAX_BATCH_SIZE, `"batchSize" must be an integer from 1 to ${MAX_BATCH_SIZE}.`)
        .optional()
        .meta({ description: 'Events per delivery; default 100.' }),
      maxAttempts: integer(1, MAX_ATTEMPTS, `"maxAttempts" must be an integer from 1 to ${MAX_ATTEMPTS}.`)
        .optional()
        .meta({ description: 'Deliveries of an event before it is dead-lettered; default 5.' }),
      maxAgeSeconds: integer(
        1,
        366 * 24 * 3600,
        `"maxAgeSeconds" must be an integer from 1 to ${366 * 24 * 3600}.`,
      )
        .optional()
        .meta({ description: 'A failing event older than this is dead-lettered at once.' }),
      startFrom: oneOf('startFrom', ['latest', 'earliest'])
        .optional()
        .meta({ description: 'Default "latest".' }),
      delivery: oneOf('delivery', ['at-least-once', 'at-most-once'])
        .optional()
        .meta({ description: 'Default "at-least-once".' }),
      timeoutSeconds: integer(
        1,
        MAX_TIMEOUT_SECONDS,
        `"timeoutSeconds" must be an integer from 1 to ${MAX_TIMEOUT_SECONDS}.`,
      )
        .optional()
        .meta({ description: 'How long the target may take; default 10 (webhook) or 60 (lambda).' }),
      secret: z
        .string({ error: '"secret" must be "whsec_" followed by at least 24 bytes in base64.' })
        .optional()
        .meta({ description: 'Webhooks only: the signing secret to use instead of a new one.' }),
    },
    {
      error:
        'The body must be an object: {"topic", "target": {"type": "lambda", "function"} | {"type": "webhook", "url"}, …}.',
    },
  )
  .meta({
    id: 'SubscriptionRequest',
    example: { topic: 'orders', target: { type: 'lambda', function: 'billing' }, startFrom: 'earliest' },
  });

export const Subscription = z
  .object({
    group: GroupName,
    topic: TopicName,
    target: Target,
    batchSize: z.int(),
    maxAttempts: z.int(),
    maxAgeSeconds: z.int().optional(),
    startFrom: z.enum(['latest', 'earliest']),
    delivery: z.enum(['at-least-once', 'at-most-once']),
    timeoutSeconds: z.int(),
  })
  .meta({ id: 'Subscription' });

export const CreatedSubscription = Subscription.extend({
  secret: z
    .string()
    .optional()
    .meta({ description: 'A webhook\'s signing secret ("whsec_…"), shown only here.' }),
}).meta({ id: 'CreatedSubscription' });

export const SubscriptionList = z
  .object({ subscriptions: z.array(Subscription) })
  .meta({ id: 'SubscriptionList' });

export const SubscriptionDescription = Subscription.extend({
  partitions: z.array(
    z.object({
      partition: z.int().min(0),
      committedOffset: z.int().min(0),
      endOffset: z.int().min(0),
      lag: z.int().min(0),
      attempts: z.int().min(0),
      lastError: z.string().nullable(),
      retryAt: z.string().optional(),
      throttledUntil: z.string().optional().meta({
        description: 'Set while the target throttles: when the whole batch is sent again (its Retry-After).',
      }),
      oldestEventAgeMs: z.number().min(0).meta({ description: 'Age of the oldest undelivered event.' }),
    }),
  ),
}).meta({ id: 'SubscriptionDescription' });

const RESET_USAGE =
  'The body must be {"to": "earliest" | "latest" | {"timestamp": ISO-8601} | {"offsets": {"<partition>": offset}}}.';
export const ResetBody = z
  .strictObject(
    {
      to: z.union(
        [
          z.enum(['earliest', 'latest']),
          z.strictObject({
            timestamp: z
              .string({ error: '"to.timestamp" must be an ISO-8601 date-time.' })
              .refine(isIsoDateTime, { error: '"to.timestamp" must be an ISO-8601 date-time.' }),
          }),
          z.strictObject({
            offsets: z
              .record(
                z.string().meta({ description: 'A partition number.' }),
                z.int().min(0).meta({ description: "The partition's new committed offset." }),
                { error: '"to.offsets" must map partitions to offsets, e.g. {"0": 42}.' },
              )
              .meta({ example: { '0': 42 } }),
          }),
        ],
        { error: RESET_USAGE },
      ),
    },
    { error: RESET_USAGE },
  )
  .meta({ id: 'ResetRequest', example: { to: 'earliest' } });

export const ResetAnswer = z
  .object({ partitions: z.array(z.object({ partition: z.int().min(0), committedOffset: z.int().min(0) })) })
  .meta({ id: 'ResetResponse' });

export const RedriveAnswer = z
  .object({ deadLetters: z.int().min(0).meta({ description: 'Dead letters this redrive delivers again.' }) })
  .meta({ id: 'RedriveResponse' });

// ---------------------------------------------------------------- health

export const HealthAnswer = z
  .object({
    status: z.enum(['ok', 'down']),
    dependencies: z.object({ dynamodb: z.enum(['ok', 'down']), s3: z.enum(['ok', 'down']) }),
    error: ErrorBody.shape.error.optional(),
  })
  .meta({ id: 'Health' });

// ---------------------------------------------------------------- helpers

/** `YYYY-MM-DD…` that Date.parse understands: the API's ISO-8601 check. */
export function isIsoDateTime(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(value));
}

/** A path in a body as messages write it: `acl[0].topics`. */
export function where(path: readonly PropertyKey[] | undefined = []): string {
  return (path ?? [])
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
}
