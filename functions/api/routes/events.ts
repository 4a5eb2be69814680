import type { Bus } from '../../../shared/bus';
import {
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '../../../shared/errors';
import { MAX_EVENTS_RESPONSE_BYTES, renderEvents } from '../../../shared/events/event-view';
import { assertValidName } from '../../../shared/names';
import { checkLimits, type PublishLimits } from '../../../shared/publish/limits';
import type { OutgoingEvent } from '../../../shared/publish/publisher';
import {
  bodySize,
  type HttpEvent,
  type HttpResult,
  header,
  intQuery,
  json,
  jsonDocument,
  pathParam,
  query,
  withCause,
} from '../http';
import { parseCloudEvents } from '../publish/cloudevents';
import { JSON_EVENTS_PARSE, parseJsonEvents } from '../publish/json-events';
import { authenticate } from './auth';

/** Events returned by one read, at most. */
export const MAX_READ_LIMIT = 1_000;

/**
 * POST /topics/{topic}/events — 200 with each event's partition and offset,
 * only after all are committed; 503 with per-event results when some
 * partitions could not be.
 */
export async function publishEvents(bus: Bus, limits: PublishLimits, event: HttpEvent): Promise<HttpResult> {
  const name = pathParam(event, 'topic');
  assertValidName('topic', name);
  const principal = await authenticate(bus, event, 'publish', name);
  const idempotencyKey = header(event, 'idempotency-key');
  if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 255)) {
    throw new InvalidRequestError('Idempotency-Key must be 1 to 255 characters.');
  }
  const size = bodySize(event);
  if (size > limits.maxRequestBytes) {
    throw new PayloadTooLargeError(
      `The request body is ${size} bytes; the limit is ${limits.maxRequestBytes}.`,
    );
  }
  const events = parseEvents(event);
  checkLimits(events, limits);
  const topic = await bus.topics.get(name);
  const outcome = await bus.publisher.publish(topic, events, { idempotencyKey, scope: principal.id });
  if (outcome.complete) return json(200, { results: outcome.results });
  return withCause(
    json(
      503,
      { results: outcome.results },
      { 'retry-after': String(outcome.failure?.retryAfterSeconds ?? 1) },
    ),
    outcome.failure,
  );
}

function parseEvents(event: HttpEvent): OutgoingEvent[] {
  const cloudEvents = parseCloudEvents(event);
  if (cloudEvents !== undefined) return cloudEvents;
  const contentType = (header(event, 'content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (contentType === 'application/json') {
    const { text, root } = jsonDocument(event, JSON_EVENTS_PARSE);
    return parseJsonEvents(text, root);
  }
  throw new UnsupportedMediaTypeError(
    `Content-Type "${contentType || '(none)'}" is not accepted; send application/json with {"events": [...]}, ` +
      'application/cloudevents+json (one CloudEvent), application/cloudevents-batch+json (an array of them), ' +
      'or a binary-mode CloudEvent (ce-specversion, ce-id, ce-source and ce-type headers, the body is the data).',
  );
}

/** GET /topics/{topic}/partitions/{p}/events?offset=N|timestamp=ISO&limit=M */
export async function readEvents(bus: Bus, event: HttpEvent): Promise<HttpResult> {
  const name = pathParam(event, 'topic');
  assertValidName('topic', name);
  await authenticate(bus, event, 'read', name);
  const topic = await bus.topics.get(name);
  const rawPartition = pathParam(event, 'partition');
  const partition = Number(rawPartition);
  if (!/^\d{1,3}$/.test(rawPartition) || partition >= topic.partitions) {
    throw new NotFoundError(
      `Topic "${name}" has partitions 0 to ${topic.partitions - 1}; there is no partition "${rawPartition}".`,
    );
  }
  const limit = intQuery(event, 'limit', { default: 100, min: 1, max: MAX_READ_LIMIT }) as number;
  const timestamp = query(event, 'timestamp');
  const offsetParam = intQuery(event, 'offset');
  if ((timestamp === undefined) === (offsetParam === undefined)) {
    throw new InvalidRequestError('Give exactly one of "offset" (an integer) or "timestamp" (ISO-8601).');
  }
  let offset = offsetParam as number;
  if (timestamp !== undefined) {
    const ms = Date.parse(timestamp);
    if (!/^\d{4}-\d{2}-\d{2}/.test(timestamp) || Number.isNaN(ms)) {
      throw new InvalidRequestError(`"timestamp" must be an ISO-8601 date-time, got "${timestamp}".`);
    }
    offset = await bus.log.offsetForTimestamp(name, partition, ms);
  }
  const { records, nextOffset } = await bus.log.read(name, partition, offset, limit);
  // What fits the answer once rendered (a Function URL answers at most 6 MB); the rest is the next read's.
  const { json: events, count } = renderEvents(records, MAX_EVENTS_RESPONSE_BYTES);
  const next = count < records.length ? records[count].offset : nextOffset;
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: `{"events":${events},"nextOffset":${next}}`,
  };
}
