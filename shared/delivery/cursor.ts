import type { Log } from '../log/log';
import type { CursorStore } from './cursor-store';
import type { StoredSubscription } from './subscription';

/** What marks a group's redrive cursor: `#` is never in a group's name. */
const REDRIVE_SUFFIX = '#redrive';

/**
 * The cursor of a group's redrive of its dead letters.
 *
 * @example
 * redriveCursor('billing'); // 'billing#redrive'
 */
export function redriveCursor(group: string): string {
  return `${group}${REDRIVE_SUFFIX}`;
}

/**
 * The group a cursor belongs to, and whether it is the group's redrive.
 *
 * @example
 * cursorGroup('billing#redrive'); // { group: 'billing', redrive: true }
 */
export function cursorGroup(cursor: string): { group: string; redrive: boolean } {
  const redrive = cursor.endsWith(REDRIVE_SUFFIX);
  return { group: redrive ? cursor.slice(0, -REDRIVE_SUFFIX.length) : cursor, redrive };
}

/**
 * Creates a group's cursor on one partition where the subscription starts
 * reading — the oldest retained event (`earliest`) or the end (`latest`) —
 * unless it exists. Returns whether there is a backlog to deliver from there.
 *
 * @example
 * const { backlog } = await initializeCursor(log, cursors, subscription, 0);
 * if (backlog) await waker.wake([{ cursor: subscription.group, partition: 0 }]);
 */
export async function initializeCursor(
  log: Log,
  cursors: CursorStore,
  subscription: Pick<StoredSubscription, 'group' | 'topic' | 'startFrom'>,
  partition: number,
): Promise<{ backlog: boolean }> {
  const { startOffset, endOffset } = await log.offsets(subscription.topic, partition);
  const start = subscription.startFrom === 'earliest' ? startOffset : endOffset;
  await cursors.initialize({ cursor: subscription.group, partition }, subscription.topic, start);
  return { backlog: start < endOffset };
}
