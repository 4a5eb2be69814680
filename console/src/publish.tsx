import { useEffect, useState } from 'preact/hooks';
import type { EventPosition, EventToPublish, JsonValue } from '../../client';
import type { EventBusClient } from '../../client/event-bus-client';
import type { SchemaViolation } from './schema-check';
import { Problem, useLoad } from './views';

/** A topic's latest schema as the form checks values against it. */
interface TopicSchema {
  readonly topic: string;
  readonly version: number;
  /** Checks a value; loaded with the validator, which only topics with a schema need. */
  readonly check: (value: unknown) => SchemaViolation | undefined;
}

/**
 * The topic's latest schema, ready to check values; undefined while loading, when the topic has none,
 * or when it cannot be read (the API checks every publish anyway).
 */
function useTopicSchema(bus: EventBusClient, topic: string): TopicSchema | undefined {
  const [schema, setSchema] = useState<TopicSchema | undefined>();
  useEffect(() => {
    let current = true;
    setSchema(undefined);
    if (topic === '') return;
    void (async () => {
      try {
        const latest = await bus.getSchema(topic);
        const { firstViolation } = await import('./schema-check');
        if (current)
          setSchema({
            topic,
            version: latest.version,
            check: (value) => firstViolation(latest.schema, value),
          });
      } catch {
        // No schema (404), not allowed to read it (403), or unreachable: the API's answer will say.
      }
    })();
    return () => {
      current = false;
    };
  }, [bus, topic]);
  return schema?.topic === topic ? schema : undefined;
}

/** Whether a text is JSON, and why not: checked before anything is sent. */
function parseJson(text: string): { ok: true; value: JsonValue } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

function parseHeaders(
  text: string,
): { ok: true; value: Record<string, string> } | { ok: false; reason: string } {
  if (text.trim() === '') return { ok: true, value: {} };
  const parsed = parseJson(text);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, reason: 'headers must be an object of strings' };
  for (const [name, header] of Object.entries(value))
    if (typeof header !== 'string') return { ok: false, reason: `header "${name}" is not a string` };
  return { ok: true, value: value as Record<string, string> };
}

/** Publishes one event: a JSON value validated as it is typed, an optional key, headers and partition. */
export function PublishForm({ bus, initialTopic }: { bus: EventBusClient; initialTopic?: string }) {
  const [topics] = useLoad(() => bus.listTopics(), [bus]);
  const [topic, setTopic] = useState(initialTopic ?? '');
  const [key, setKey] = useState('');
  const [partition, setPartition] = useState('');
  const [headers, setHeaders] = useState('');
  const [value, setValue] = useState('{\n  "hello": "world"\n}');
  const [sent, setSent] = useState<EventPosition | undefined>();
  const [error, setError] = useState<unknown>();
  const [sending, setSending] = useState(false);

  const checkedValue = parseJson(value);
  const checkedHeaders = parseHeaders(headers);
  const chosenTopic = topic || (topics.state === 'done' ? (topics.value[0]?.name ?? '') : '');
  const schema = useTopicSchema(bus, chosenTopic);
  const violation = checkedValue.ok && schema ? schema.check(checkedValue.value) : undefined;
  const ready = checkedValue.ok && !violation && checkedHeaders.ok && chosenTopic !== '' && !sending;

  const send = async (event: Event) => {
    event.preventDefault();
    if (!checkedValue.ok || violation || !checkedHeaders.ok) return;
    setError(undefined);
    setSent(undefined);
    setSending(true);
    const toPublish: EventToPublish = {
      value: checkedValue.value,
      ...(key ? { key } : {}),
      ...(Object.keys(checkedHeaders.value).length > 0 ? { headers: checkedHeaders.value } : {}),
      ...(partition !== '' ? { partition: Number(partition) } : {}),
    };
    try {
      const [position] = await bus.publish(chosenTopic, [toPublish]);
      setSent(position);
    } catch (failure) {
      setError(failure);
    } finally {
      setSending(false);
    }
  };

  return (
    <section>
      <h2>Publish an event</h2>
      <form class="publish" onSubmit={send}>
        <label for="publish-topic">Topic</label>
        {topics.state === 'done' && topics.value.length > 0 ? (
          <select
            id="publish-topic"
            name="topic"
            value={chosenTopic}
            onChange={(e) => setTopic((e.target as HTMLSelectElement).value)}
          >
            {topics.value.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name}
              </option>
            ))}
          </select>
        ) : (
          <input
            id="publish-topic"
            name="topic"
            value={topic}
            onInput={(e) => setTopic((e.target as HTMLInputElement).value)}
          />
        )}
        <label>
          Key (optional){' '}
          <input name="event-key" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Partition (optional){' '}
          <input
            name="partition"
            type="number"
            min="0"
            value={partition}
            onInput={(e) => setPartition((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Headers (a JSON object of strings, optional)
          <textarea
            name="headers"
            rows={2}
            spellcheck={false}
            value={headers}
            onInput={(e) => setHeaders((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        {!checkedHeaders.ok && <p class="invalid">Headers are not valid: {checkedHeaders.reason}</p>}
        <label>
          Value (JSON)
          <textarea
            name="value"
            rows={8}
            spellcheck={false}
            value={value}
            onInput={(e) => setValue((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        {!checkedValue.ok ? (
          <p class="invalid">Not valid JSON: {checkedValue.reason}</p>
        ) : violation && schema ? (
          <p class="invalid schema-violation">
            Does not match schema v{schema.version} at{' '}
            {violation.pointer === '' ? 'the top level' : <code>{violation.pointer}</code>}:{' '}
            {violation.message}
          </p>
        ) : (
          <p class="ok">Valid JSON{schema ? `, matches schema v${schema.version}` : ''}.</p>
        )}
        <button type="submit" disabled={!ready}>
          {sending ? 'Publishing…' : 'Publish'}
        </button>
      </form>
      {sent && (
        <p class="ok published">
          Published to {chosenTopic}, partition {sent.partition} at offset {sent.offset}.
        </p>
      )}
      {error !== undefined && <Problem error={error} />}
    </section>
  );
}
