import { useEffect, useState } from 'preact/hooks';
import { describeTarget, type OffsetReset, type SubscriptionDescription } from '../../client';
import { EventBusError } from '../../client/errors';
import type { EventBusClient } from '../../client/event-bus-client';
import { duration } from './format';
import { LagChart, type LagSample } from './lag-chart';
import { ConfirmButton, EventList, Problem, Show, useLoad } from './views';

const WINDOW_MS = 5 * 60_000;
const SAMPLE_EVERY_MS = 2_000;

/** Every consumer group on a topic the key may read. */
export function GroupList({ bus }: { bus: EventBusClient }) {
  const [groups] = useLoad(() => bus.listSubscriptions(), [bus]);
  return (
    <section>
      <h2>Consumer groups</h2>
      <Show loaded={groups}>
        {(list) =>
          list.length === 0 ? (
            <p class="muted">No consumer group on a topic this key may read.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>Group</th>
                  <th>Topic</th>
                  <th>Target</th>
                  <th>Delivery</th>
                </tr>
              </thead>
              <tbody>
                {list.map((group) => (
                  <tr key={group.group}>
                    <td>
                      <a href={`#/groups/${encodeURIComponent(group.group)}`}>{group.group}</a>
                    </td>
                    <td>{group.topic}</td>
                    <td>{describeTarget(group.target)}</td>
                    <td>{group.delivery ?? 'at-least-once'}</td>
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

/** One group: lag per partition, sampled into a chart; its last errors; its dead letters; offset resets. */
export function GroupView({ bus, group }: { bus: EventBusClient; group: string }) {
  const [described, setDescribed] = useState<SubscriptionDescription | undefined>();
  const [error, setError] = useState<unknown>();
  const [samples, setSamples] = useState<LagSample[]>([]);
  const [round, setRound] = useState(0);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const sample = async () => {
      try {
        const answer = await bus.getSubscription(group);
        if (stopped) return;
        setDescribed(answer);
        setError(undefined);
        const at = Date.now();
        const lag = answer.partitions.reduce((sum, p) => sum + p.lag, 0);
        setSamples((old) => [...old.filter((s) => s.at > at - WINDOW_MS), { at, lag }]);
      } catch (failure) {
        if (!stopped) setError(failure);
      }
      if (!stopped) timer = setTimeout(sample, SAMPLE_EVERY_MS);
    };
    void sample();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [bus, group, round]);

  return (
    <section>
      <h2>
        Group <span class="name">{group}</span>
      </h2>
      {error !== undefined && <Problem error={error} />}
      {described && (
        <>
          <p>
            Topic <a href={`#/topics/${encodeURIComponent(described.topic)}`}>{described.topic}</a> →{' '}
            {describeTarget(described.target)}; {described.delivery ?? 'at-least-once'}, up to{' '}
            {described.maxAttempts ?? 5} attempts, batches of {described.batchSize ?? 100}.
          </p>
          {described.filter && (
            <div class="routing">
              <h3>Filter (EventBridge event pattern)</h3>
              <pre class="filter">{JSON.stringify(described.filter, null, 2)}</pre>
            </div>
          )}
          {described.transform && (
            <div class="routing">
              <h3>Transform (JSONata)</h3>
              <pre class="transform">{described.transform.jsonata}</pre>
            </div>
          )}
          <table class="lag">
            <thead>
              <tr>
                <th>Partition</th>
                <th>Committed</th>
                <th>End</th>
                <th>Lag</th>
                <th>Oldest event age</th>
                <th>Attempts</th>
                <th>Last error</th>
                <th>Next retry</th>
              </tr>
            </thead>
            <tbody>
              {described.partitions.map((p) => (
                <tr key={p.partition}>
                  <td>{p.partition}</td>
                  <td>{p.committedOffset}</td>
                  <td>{p.endOffset}</td>
                  <td class="lag-value">{p.lag}</td>
                  <td>{p.oldestEventAgeMs === undefined ? '–' : duration(p.oldestEventAgeMs)}</td>
                  <td>{p.attempts}</td>
                  <td class="last-error">{p.lastError ?? '–'}</td>
                  <td>{p.retryAt ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <LagChart samples={samples} windowMs={WINDOW_MS} />
          <ResetOffsets bus={bus} group={group} onDone={() => setRound((r) => r + 1)} />
          <DeadLetters bus={bus} group={group} target={describeTarget(described.target)} />
        </>
      )}
    </section>
  );
}

function ResetOffsets({ bus, group, onDone }: { bus: EventBusClient; group: string; onDone: () => void }) {
  const [to, setTo] = useState<'earliest' | 'latest' | 'time'>('earliest');
  const [time, setTime] = useState('');
  const [outcome, setOutcome] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const reset = async () => {
    setError(undefined);
    const where: OffsetReset = to === 'time' ? { timestamp: new Date(time).toISOString() } : to;
    try {
      const partitions = await bus.resetOffsets(group, where);
      setOutcome(
        `Reset: ${partitions.map((p) => `partition ${p.partition} at ${p.committedOffset}`).join(', ')}.`,
      );
      onDone();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <div class="reset">
      <h3>Reset offsets</h3>
      <div class="row">
        <select
          name="reset-to"
          value={to}
          onChange={(e) => setTo((e.target as HTMLSelectElement).value as never)}
        >
          <option value="earliest">to the earliest retained event (replay)</option>
          <option value="latest">to the end (skip everything)</option>
          <option value="time">to a time</option>
        </select>
        {to === 'time' && (
          <input
            name="reset-time"
            type="datetime-local"
            step="1"
            value={time}
            onInput={(e) => setTime((e.target as HTMLInputElement).value)}
          />
        )}
        <ConfirmButton
          label="Reset offsets"
          question={`Move every partition of ${group} ${to === 'time' ? `to ${time || '…'}` : `to ${to}`}?`}
          onConfirm={() => void reset()}
        />
      </div>
      {outcome && <p class="ok">{outcome}</p>}
      {error !== undefined && <Problem error={error} />}
    </div>
  );
}

/** The group's dead letters (topic `<group>.dlq`) with their `eventbus-dlq-*` headers, and redrive. */
function DeadLetters({ bus, group, target }: { bus: EventBusClient; group: string; target: string }) {
  const topic = `${group}.dlq`;
  const [letters, reload] = useLoad(async () => {
    try {
      const described = await bus.describeTopic(topic);
      const start = described.partitions[0]?.startOffset ?? 0;
      return await bus.readPage(topic, 0, { offset: start, limit: 50 });
    } catch (error) {
      if (error instanceof EventBusError && error.code === 'TOPIC_NOT_FOUND') return undefined;
      throw error;
    }
  }, [bus, topic]);
  const [outcome, setOutcome] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const redrive = async () => {
    setError(undefined);
    try {
      const { deadLetters } = await bus.redrive(group);
      setOutcome(`Redriven: ${deadLetters} dead letters sent to ${target} again.`);
      reload();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <div class="dlq">
      <h3>
        Dead letters <span class="muted">(topic {topic})</span>
      </h3>
      <Show loaded={letters}>
        {(page) =>
          page === undefined || page.events.length === 0 ? (
            <p class="muted">No dead letters.</p>
          ) : (
            <>
              <ConfirmButton
                label="Redrive"
                question={`Deliver every dead letter of ${group} to ${target} again?`}
                onConfirm={() => void redrive()}
              />
              <EventList events={page.events} />
            </>
          )
        }
      </Show>
      {outcome && <p class="ok">{outcome}</p>}
      {error !== undefined && <Problem error={error} />}
    </div>
  );
}
