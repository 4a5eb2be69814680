import { z } from 'zod';
import { AclEntrySchema } from '../../../shared/auth/new-api-key';
import { SubscriptionSchema } from '../../../shared/delivery/subscription';
import { GroupName, TopicName } from '../../../shared/names';
import { Topic } from '../../../shared/registry/topic';
import { isIsoDateTime } from '../../../shared/validation';

/**
 * The API's schemas: requests are validated with them and the OpenAPI
 * document (docs/openapi.json) is generated from them. What a topic, a
 * subscription or a key may be is the domain's (shared/registry/topic.ts,
 * shared/delivery/subscription.ts, shared/auth/new-api-key.ts): this module
 * adds the shapes only the HTTP API has (paths, lists, answers). Messages are
 * the API's own (docs/api.md): each says what to fix. Schemas read only own
 * members, since request bodies arrive as null-prototype objects
 * (functions/api/request.ts).
 */

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
        acl: z.array(AclEntrySchema),
        description: z.string().nullable(),
        createdAt: z.string(),
      }),
    ),
  })
  .meta({ id: 'KeyList' });

export const KeyPath = z.object({ id: z.string().meta({ description: 'The key id, from GET /keys.' }) });

// ---------------------------------------------------------------- subscriptions

export const GroupPath = z.object({ group: GroupName });

export const Subscription = SubscriptionSchema;

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

// ---------------------------------------------------------------- routing

export const RoutingTestAnswer = z
  .object({
    results: z
      .array(
        z.object({
          index: z.int().min(0).optional().meta({ description: "A sample's index in `events`." }),
          partition: z.int().min(0).optional().meta({ description: "A retained event's partition." }),
          offset: z.int().min(0).optional().meta({ description: "A retained event's offset." }),
          matched: z.boolean().meta({ description: 'Whether the filter lets the event through.' }),
          value: z
            .unknown()
            .optional()
            .meta({ description: 'A matching event: the value the target would receive (transformed).' }),
          key: z.string().nullable().optional().meta({
            description:
              "A matching event: the key a topic target would append it with (the `key` expression's, or the event's).",
          }),
          error: z.string().optional().meta({
            description:
              'A matching event the transform or key fails: why (delivery would retry, then dead-letter it).',
          }),
        }),
      )
      .meta({ description: 'Per event tried, in order (a topic: partition by partition as read).' }),
    counts: z.object({
      read: z.int().min(0).meta({ description: 'Events tried.' }),
      matched: z.int().min(0),
      failed: z.int().min(0).meta({ description: 'Matching events whose transform or key failed.' }),
    }),
    next: z
      .object({ offsets: z.record(z.string(), z.int().min(0)) })
      .optional()
      .meta({ description: 'Reading a topic: pass as `from` to try the events after these.' }),
  })
  .meta({ id: 'RoutingTestResponse' });

// ---------------------------------------------------------------- health

export const HealthAnswer = z
  .object({
    status: z.enum(['ok', 'down']),
    dependencies: z.object({ dynamodb: z.enum(['ok', 'down']), s3: z.enum(['ok', 'down']) }),
    error: ErrorBody.shape.error.optional(),
  })
  .meta({ id: 'Health' });
