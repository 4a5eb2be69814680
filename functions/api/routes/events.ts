import { z } from 'zod';
import { InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../../shared/errors';
import { MAX_EVENTS_RESPONSE_BYTES, renderEvents } from '../../../shared/events/event-view';
import { checkLimits } from '../../../shared/publish/limits';
import type { OutgoingEvent } from '../../../shared/publish/publisher';
import { isIsoDateTime } from '../../../shared/validation';
import { defineRoute } from '../contract/route';
import {
  CloudEvent,
  JsonEventsBody,
  PublishAnswer,
  ReadAnswer,
  ReadPath,
  TopicPath,
} from '../contract/schemas';
import { json, withCause } from '../http';
import { parseCloudEvents } from '../publish/cloudevents';
import { JSON_EVENTS_PARSE, parseJsonEvents } from '../publish/json-events';
import type { ApiRequest } from '../request';

/** Events returned by one read, at most. */
export const MAX_READ_LIMIT = 1_000;

/**
 * POST /topics/{topic}/events — 200 with each event's partition and offset,
 * only after all are committed; 503 with per-event results when some
 * partitions could not be.
 */
export const publishEvents = defineRoute({
  method: 'POST',
  path: '/topics/{topic}/events',
  operationId: 'publishEvents',
  tag: 'events',
  summary: 'Publish events',
  description:
    'Answers only after every event is durably committed, with results in request order. Without a key or partition, ' +
    "events spread over partitions; with a key, the partition is Kafka's default (murmur2). A binary-mode CloudEvent " +
    '(ce-specversion, ce-id, ce-source, ce-type headers, any content type) is also accepted: the body is its data.',
  access: { permission: 'publish', resource: { param: 'topic' } },
  params: TopicPath,
  headers: {
    'idempotency-key':
      '1 to 255 characters: a repeat within 24 h returns the first answer and appends nothing.',
  },
  // Read by json-text's strict parser, not a schema over parsed values: values keep their exact text and a
  // repeated member name is refused, which parsing into objects would hide.
  body: {
    raw: true,
    description: "The bus's own JSON format, or CloudEvents 1.0 in structured or batch mode.",
    content: {
      'application/json': { schema: JsonEventsBody },
      'application/cloudevents+json': { schema: CloudEvent },
      'application/cloudevents-batch+json': {
        schema: z
          .array(CloudEvent)
          .min(1)
          .meta({
            example: [
              {
                specversion: '1.0',
                id: 'e-1',
                source: '/shop',
                type: 'order.placed',
                partitionkey: 'order-1',
              },
              { specversion: '1.0', id: 'e-2', source: '/shop', type: 'order.paid', partitionkey: 'order-1' },
            ],
          }),
      },
    },
  },
  responses: {
    200: { description: 'Every event is committed.', schema: PublishAnswer },
    503: {
      description:
        'Some partitions could not be committed: `results` holds `{"error"}` for their events; retry those.',
      schema: PublishAnswer,
      headers: { 'retry-after': 'Seconds to wait before retrying.' },
    },
    409: {
      description:
        'CONFLICT: a request with this Idempotency-Key is still in progress; retry after `Retry-After`.',
      headers: { 'retry-after': 'Seconds to wait before retrying.' },
    },
    413: { description: 'PAYLOAD_TOO_LARGE: over 6 MB per request or 1 MiB per value.' },
    415: { description: 'UNSUPPORTED_MEDIA_TYPE.' },
    422: {
      description: 'IDEMPOTENCY_KEY_REUSED: the Idempotency-Key was first used for a different request.',
    },
  },
  handle: async ({ params, request, principal }, { topics, publisher, limits }) => {
    const idempotencyKey = request.headers['idempotency-key'];
    if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 255)) {
      throw new InvalidRequestError('Idempotency-Key must be 1 to 255 characters.');
    }
    const size = request.body.size;
    if (size > limits.maxRequestBytes) {
      throw new PayloadTooLargeError(
        `The request body is ${size} bytes; the limit is ${limits.maxRequestBytes}.`,
      );
    }
    const events = parseEvents(request);
    checkLimits(events, limits);
    const topic = await topics.publishable(params.topic);
    const outcome = await publisher.publish(topic, events, { idempotencyKey, scope: principal.id });
    if (outcome.complete) return json(200, { results: outcome.results });
    return withCause(
      json(
        503,
        { results: outcome.results },
        { 'retry-after': String(outcome.failure?.retryAfterSeconds ?? 1) },
      ),
      outcome.failure,
    );
  },
});

function parseEvents(request: ApiRequest): OutgoingEvent[] {
  const cloudEvents = parseCloudEvents(request);
  if (cloudEvents !== undefined) return cloudEvents;
  const contentType = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (contentType === 'application/json') {
    const { text, root } = request.body.jsonDocument(JSON_EVENTS_PARSE);
    return parseJsonEvents(text, root);
  }
  throw new UnsupportedMediaTypeError(
    `Content-Type "${contentType || '(none)'}" is not accepted; send application/json with {"events": [...]}, ` +
      'application/cloudevents+json (one CloudEvent), application/cloudevents-batch+json (an array of them), ' +
      'or a binary-mode CloudEvent (ce-specversion, ce-id, ce-source and ce-type headers, the body is the data).',
  );
}

/** A non-negative integer from the query string, within bounds, or a message naming the parameter. */
function queryInteger(name: string, min: number, max?: number) {
  const range = max !== undefined ? `from ${min} to ${max}` : `of at least ${min}`;
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw === '') return undefined;
      const value = Number(raw);
      if (
        /^\d+$/.test(raw) &&
        Number.isSafeInteger(value) &&
        value >= min &&
        (max === undefined || value <= max)
      ) {
        return value;
      }
      ctx.addIssue({
        code: 'custom',
        message: `Query parameter "${name}" must be an integer ${range}, got "${raw.slice(0, 60)}".`,
      });
      return z.NEVER;
    })
    .meta({ type: 'integer', minimum: min, ...(max !== undefined ? { maximum: max } : {}) });
}

const ONE_START = 'Give exactly one of "offset" (an integer) or "timestamp" (ISO-8601).';
export const ReadQuery = z
  .object({
    offset: queryInteger('offset', 0).meta({ description: 'The first offset to read.' }),
    timestamp: z
      .string()
      .optional()
      .refine((raw) => raw === undefined || isIsoDateTime(raw), {
        error: (issue) =>
          `"timestamp" must be an ISO-8601 date-time, got "${String(issue.input).slice(0, 60)}".`,
      })
      .meta({ description: 'Instead of offset: the first event appended at or after this ISO-8601 time.' }),
    limit: queryInteger('limit', 1, MAX_READ_LIMIT).meta({ description: 'Events at most; default 100.' }),
  })
  .refine((query) => (query.offset === undefined) !== (query.timestamp === undefined), { error: ONE_START });

/** GET /topics/{topic}/partitions/{p}/events?offset=N|timestamp=ISO&limit=M */
export const readEvents = defineRoute({
  method: 'GET',
  path: '/topics/{topic}/partitions/{partition}/events',
  operationId: 'readEvents',
  tag: 'events',
  summary: 'Read a partition',
  description:
    'Events from an offset (or the first at or after a time). An offset at or past the end gives an empty list; ' +
    'one below the start gives 410 OFFSET_OUT_OF_RANGE with `startOffset`.',
  access: { permission: 'read', resource: { param: 'topic' } },
  params: ReadPath,
  query: ReadQuery,
  responses: {
    200: { description: 'The events, and where to read next.', schema: ReadAnswer },
    410: { description: 'OFFSET_OUT_OF_RANGE: the offset is below the oldest retained one (`startOffset`).' },
  },
  handle: async ({ params, query }, { topics }) => {
    const start =
      query.offset !== undefined
        ? { offset: query.offset }
        : { timestamp: Date.parse(query.timestamp as string) };
    const { records, nextOffset } = await topics.read(
      params.topic,
      params.partition,
      start,
      query.limit ?? 100,
    );
    // What fits the answer once rendered (a Function URL answers at most 6 MB); the rest is the next read's.
    const { json: events, count } = renderEvents(records, MAX_EVENTS_RESPONSE_BYTES);
    const next = count < records.length ? records[count].offset : nextOffset;
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: `{"events":${events},"nextOffset":${next}}`,
    };
  },
});
