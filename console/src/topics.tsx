import { useEffect, useRef, useState } from 'preact/hooks';
import { type ConsumedEvent, NotFoundError } from '../../client';
import type { EventBusClient } from '../../client/event-bus-client';
import { EventList, Problem, Show, useLoad } from './views';

/** Every topic the key may read: partitions and retention. */
export function TopicList({ bus }: { bus: EventBusClient }) {
  const [topics] = useLoad(() => bus.listTopics(), [bus]);
  return (
    <section>
      <h2>Topics</h2>
      <Show loaded={topics}>
        {(list) =>
          list.length === 0 ? (
            <p class="muted">This key may read no topic yet.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Topic</th>
                  <th>Partitions</th>
                  <th>Retention</th>
                  <th>Schema</th>
                </tr>
              </thead>
              <tbody>
                {list.map((topic) => (
                  <tr key={topic.name}>
                    <td>
                      <a href={`#/topics/${encodeURIComponent(topic.name)}`}>{topic.name}</a>
                    </td>
                    <td>{topic.partitions}</td>
                    <td>{topic.retentionHours} h</td>
                    <td>
                      <SchemaVersion bus={bus} topic={topic.name} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </section>
  );
}

/** A topic's latest schema version and mode, or "none" (a topic without a schema answers 404). */
function SchemaVersion({ bus, topic }: { bus: EventBusClient; topic: string }) {
  const [schema] = useLoad(
    () =>
      bus.getSchema(topic).then(
        (latest) => latest as typeof latest & { compatibility?: string },
        (error) => {
          if (error instanceof NotFoundError) return undefined;
          throw error;
        },
      ),
    [bus, topic],
  );
  if (schema.state === 'loading') return <span class="muted">…</span>;
  if (schema.state === 'failed') return <span class="muted">not readable</span>;
  if (!schema.value) return <span class="muted">none</span>;
  return (
    <span class="schema-version">
      v{schema.value.version} ({schema.value.compatibility ?? 'BACKWARD'})
    </span>
  );
}

/** One topic: its partitions' offsets, and its events read by partition from an offset or a time. */
export function TopicView({ bus, name }: { bus: EventBusClient; name: string }) {
  const [topic] = useLoad(() => bus.describeTopic(name), [bus, name]);
  return (
    <section>
      <h2>
        Topic <span class="name">{name}</span>
      </h2>
      <Show loaded={topic}>
        {(described) => (
          <>
            <table>
              <thead>
                <tr>
                  <th>Partition</th>
                  <th>Start offset</th>
                  <th>End offset</th>
                  <th>Events retained</th>
                </tr>
              </thead>
              <tbody>
                {described.partitions.map((p) => (
                  <tr key={p.partition}>
                    <td>{p.partition}</td>
                    <td>{p.startOffset}</td>
                    <td>{p.endOffset}</td>
                    <td>{p.endOffset - p.startOffset}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p class="muted">
              Retention {described.retentionHours} h. Schema: <SchemaVersion bus={bus} topic={name} />
            </p>
            <EventBrowser bus={bus} topic={name} partitions={described.partitions.length} />
          </>
        )}
      </Show>
    </section>
  );
}

type Page = { events: readonly ConsumedEvent[]; nextOffset: number; from: string };

function EventBrowser({
  bus,
  topic,
  partitions,
}: {
  bus: EventBusClient;
  topic: string;
  partitions: number;
}) {
  const [partition, setPartition] = useState(0);
  const [startKind, setStartKind] = useState<'offset' | 'time'>('offset');
  const [offset, setOffset] = useState('0');
  const [time, setTime] = useState('');
  const [page, setPage] = useState<Page | undefined>();
  const [error, setError] = useState<unknown>();
  const [tailing, setTailing] = useState(false);

  const read = async (at: { offset: number } | { timestamp: string }, from: string) => {
    setError(undefined);
    try {
      const answer = await bus.readPage(topic, partition, { ...at, limit: 20 });
      setPage({ ...answer, from });
    } catch (failure) {
      setError(failure);
    }
  };
  const readFromForm = (event: Event) => {
    event.preventDefault();
    setTailing(false);
    if (startKind === 'offset') void read({ offset: Number(offset) || 0 }, `offset ${offset}`);
    else void read({ timestamp: new Date(time).toISOString() }, `time ${time}`);
  };

  return (
    <div class="browser">
      <h3>Events</h3>
      <form class="row" onSubmit={readFromForm}>
        <label>
          Partition{' '}
          <select
            name="partition"
            value={partition}
            onChange={(e) => setPartition(Number((e.target as HTMLSelectElement).value))}
          >
            {Array.from({ length: partitions }, (_, p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label>
          From{' '}
          <select
            name="from"
            value={startKind}
            onChange={(e) => setStartKind((e.target as HTMLSelectElement).value as 'offset' | 'time')}
          >
            <option value="offset">offset</option>
            <option value="time">time</option>
          </select>
        </label>
        {startKind === 'offset' ? (
          <input
            name="offset"
            type="number"
            min="0"
            value={offset}
            onInput={(e) => setOffset((e.target as HTMLInputElement).value)}
          />
        ) : (
          <input
            name="time"
            type="datetime-local"
            step="1"
            required
            value={time}
            onInput={(e) => setTime((e.target as HTMLInputElement).value)}
          />
        )}
        <button type="submit">Read</button>
        <button type="button" class="secondary" onClick={() => setTailing(!tailing)}>
          {tailing ? 'Stop live tail' : 'Live tail'}
        </button>
      </form>
      {error !== undefined && <Problem error={error} />}
      {tailing ? (
        <LiveTail bus={bus} topic={topic} partition={partition} />
      ) : (
        page && (
          <>
            <p class="muted">
              {page.events.length === 1 ? '1 event' : `${page.events.length} events`} from {page.from}; the
              next page starts at offset {page.nextOffset}.
            </p>
            <EventList events={page.events} />
            <button
              type="button"
              disabled={page.events.length === 0}
              onClick={() => void read({ offset: page.nextOffset }, `offset ${page.nextOffset}`)}
            >
              Next page
            </button>
          </>
        )
      )}
    </div>
  );
}

/** New events of a partition as they arrive: reads from its end, then polls from each page's `nextOffset`. */
function LiveTail({ bus, topic, partition }: { bus: EventBusClient; topic: string; partition: number }) {
  const [events, setEvents] = useState<ConsumedEvent[]>([]);
  const [error, setError] = useState<unknown>();
  const next = useRef<number | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    next.current = undefined;
    setEvents([]);
    const poll = async () => {
      try {
        if (next.current === undefined) {
          const described = await bus.describeTopic(topic);
          next.current = described.partitions[partition]?.endOffset ?? 0;
        }
        const page = await bus.readPage(topic, partition, { offset: next.current, limit: 100 });
        next.current = page.nextOffset;
        // The newest first, the last 200 kept.
        if (!stopped && page.events.length > 0)
          setEvents((shown) => [...[...page.events].reverse(), ...shown].slice(0, 200));
        setError(undefined);
      } catch (failure) {
        if (!stopped) setError(failure);
      }
      if (!stopped) timer = setTimeout(poll, 1000);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [bus, topic, partition]);
  return (
    <div class="tail">
      <p class="muted">Live tail of partition {partition}: new events appear here, newest first.</p>
      {error !== undefined && <Problem error={error} />}
      <EventList events={events} />
    </div>
  );
}
