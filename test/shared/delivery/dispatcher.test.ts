import { randomUUID } from 'node:crypto';
import { createBusCore } from '../../../shared/bus';
import type { CursorRef } from '../../../shared/delivery/cursor-store';
import { Dispatcher } from '../../../shared/delivery/dispatcher';
import { record, uniqueTopic } from '../../support/aws';

/** The dispatcher with a waker that only records whom it woke. */
function recordingDispatcher() {
  const woken: CursorRef[] = [];
  const core = createBusCore({ waker: { wake: async (refs) => void woken.push(...refs) } });
  return { core, woken, dispatcher: new Dispatcher(core) };
}

describe('the dispatcher', () => {
  test('the sweep wakes cursors with events left and no live holder, and partitions with no cursor yet; not those held, caught up, or with a retry not yet due', async () => {
    const { core, woken, dispatcher } = recordingDispatcher();
    // GIVEN a topic of 5 partitions, each with an event, and a group on it
    const topic = uniqueTopic('sweep');
    await core.topics.create({ name: topic, partitions: 5, retentionHours: 24 });
    for (let partition = 0; partition < 5; partition++)
      await core.log.append(topic, partition, 24, [record({ partition })]);
    const group = `sweep-${randomUUID().slice(0, 8)}`;
    await core.subscriptions.create({
      group,
      topic,
      target: { type: 'lambda', function: 'f' },
      batchSize: 10,
      maxAttempts: 3,
      startFrom: 'earliest',
      delivery: 'at-least-once',
      timeoutSeconds: 5,
    });
    // partition 0: lag, free → woken
    await core.cursors.initialize({ cursor: group, partition: 0 }, topic, 0);
    // partition 1: lag, held by a live lease → not woken
    await core.cursors.initialize({ cursor: group, partition: 1 }, topic, 0);
    expect(
      await core.cursors.acquireLease({ cursor: group, partition: 1 }, 'holder', Date.now(), 60_000),
    ).toBeDefined();
    // partition 2: caught up → not woken
    await core.cursors.initialize({ cursor: group, partition: 2 }, topic, 1);
    // partition 3: lag, a retry due in a minute → not woken
    await core.cursors.initialize({ cursor: group, partition: 3 }, topic, 0);
    const held = await core.cursors.acquireLease(
      { cursor: group, partition: 3 },
      'retrying',
      Date.now(),
      60_000,
    );
    expect(
      await core.cursors.commitOffset(held as NonNullable<typeof held>, 'retrying', {
        next: 0,
        attempts: 1,
        retryAt: Date.now() + 60_000,
        lastError: 'boom',
      }),
    ).toBe(true);
    // partition 4: no cursor at all → woken (the deliverer creates it)

    // WHEN the sweep runs
    await dispatcher.sweep();

    // THEN exactly partitions 0 and 4 of this group are woken
    const mine = woken.filter((ref) => ref.cursor === group).map((ref) => ref.partition);
    expect(mine.sort()).toEqual([0, 4]);
  });

  test('new segments wake every group reading their partition, telling it the end the stream saw', async () => {
    const { core, woken, dispatcher } = recordingDispatcher();
    const topic = uniqueTopic('appended');
    await core.topics.create({ name: topic, partitions: 2, retentionHours: 24 });
    const groups = [`a-${randomUUID().slice(0, 8)}`, `b-${randomUUID().slice(0, 8)}`];
    for (const group of groups) {
      await core.subscriptions.create({
        group,
        topic,
        target: { type: 'lambda', function: 'f' },
        batchSize: 10,
        maxAttempts: 3,
        startFrom: 'latest',
        delivery: 'at-least-once',
        timeoutSeconds: 5,
      });
    }
    await core.subscriptions.list(); // the readers' list is cached for a few seconds; read it afresh
    await dispatcher.onAppended([{ topic, partition: 1, end: 7 }]);
    expect(woken.sort((x, y) => x.cursor.localeCompare(y.cursor))).toEqual(
      groups.sort().map((cursor) => ({ cursor, partition: 1, end: 7 })),
    );
  });
});
