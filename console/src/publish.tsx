import { useState } from 'preact/hooks';
import type { EventPosition, EventToPublish, JsonValue } from '../../client';
import type { EventBusClient } from '../../client/event-bus-client';
import { Problem, useLoad } from './views';

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
  const ready = checkedValue.ok && checkedHeaders.ok && chosenTopic !== '' && !sending;

  const send = async (event: Event) => {
    event.preventDefault();
    if (!checkedValue.ok || !checkedHeaders.ok) return;
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
        {checkedValue.ok ? (
          <p class="ok">Valid JSON.</p>
        ) : (
          <p class="invalid">Not valid JSON: {checkedValue.reason}</p>
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
