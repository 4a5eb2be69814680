import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { toErrorResult } from '../../../functions/api/middleware/error-response';
import { ConflictError } from '../../../shared/errors';
import type { Log } from '../../../shared/log/log';
import { RESERVATION_COMMIT_MS, SETTLE_AFTER_MS } from '../../../shared/log/reservations';
import { IDEMPOTENT_APPEND_DEADLINE_MS, IdempotentAppends } from '../../../shared/publish/idempotent-appends';
import { Publisher } from '../../../shared/publish/publisher';
import { newLog, partitionItems, record, testConfig } from '../../support/aws';
import { subscribedTopic } from '../../support/delivery';
import { chaosClients, type FaultCounts, noFaults, prng, RANDOM_FAULTS } from '../../support/faults';

/**
 * Writers crowd one partition, so it goes in and out of reserved epochs
 * (docs/adr/0011), while faults hit their writes at random: a request that
 * never leaves, an answer lost after DynamoDB applied the write, and an
 * instance that dies, before a write leaves or right after it landed, after
 * which nothing it sends lands (not even its clean-up); and reads are
 * refused now and then. A dead instance is
 * replaced by a fresh one, and the client publishes the unacknowledged event
 * again, as a client of the API would after an error. The conditions, the
 * counter and the reads run in DynamoDB Local; only the faults are injected.
 *
 * Whatever the interleaving: every acknowledged event is read back at the
 * offset it was acknowledged with, and once if its first try was
 * acknowledged (a lost answer makes no duplicate); a reader running alongside never steps
 * past an offset that later turns out to hold an acknowledged event, nor
 * does a deliverer, which in the end sends exactly what the reader reads; offsets
 * only increase, and each offset below the top holds one event or lies in a
 * gap.
 */

const RETENTION = 24;
const WRITERS = 6;
const APPENDS = 12;

/**
 * How a writer publishes: straight to the log, or as the API does with an
 * `Idempotency-Key` (docs/adr/0006), where the client's retries carry the key;
 * or straight to the log with events too large to store inline, whose
 * segments go to S3 first (where faults hit the uploads too).
 */
type Mode = 'plain' | 'idempotent' | 'large';

/**
 * One Lambda instance: its own clients, `Log` and publisher, and writes that
 * meet faults with probability `rate` each. `generation` counts the instances
 * a writer went through: a replacement's idempotency clock runs a lock's
 * length further ahead, so it does not wait out the lock of an attempt that
 * can no longer commit (its instance is dead, or its append has returned).
 */
function instance(random: () => number, rate: number, faults: FaultCounts, generation: number) {
  const { dynamo, s3, dead } = chaosClients(random, rate, faults);
  const log = newLog({ dynamo, s3 });
  const lockAhead = () => Date.now() + generation * (IDEMPOTENT_APPEND_DEADLINE_MS + 11_000);
  const publisher = new Publisher(
    log,
    new IdempotentAppends(dynamo, testConfig().registryTable, log, lockAhead),
  );
  return {
    dead,
    /** The event's offset once acknowledged; throws when it was not. */
    publish: async (mode: Mode, topic: string, writer: number, seq: number): Promise<number> => {
      const value = {
        writer,
        seq,
        ...(mode === 'large' ? { pad: randomBytes(16_000).toString('base64') } : {}),
      };
      if (mode !== 'idempotent') return (await log.append(topic, 0, RETENTION, [record(value)])).baseOffset;
      const outcome = await publisher.publish(
        { name: topic, partitions: 1, retentionHours: RETENTION },
        [{ key: null, value: Buffer.from(JSON.stringify(value)), json: true, headers: {} }],
        { idempotencyKey: `${writer}/${seq}`, scope: 'chaos' },
      );
      const [result] = outcome.results;
      if (!outcome.complete || !('offset' in result)) throw outcome.failure ?? new Error('not committed');
      return result.offset;
    },
  };
}

/** Which event a stored value is: its writer and sequence number. */
function idOf(json: string): { writer: number; seq: number } | null {
  const value = JSON.parse(json);
  return value === null ? null : { writer: value.writer, seq: value.seq };
}

interface Acked {
  readonly writer: number;
  readonly seq: number;
  readonly offset: number;
  /** Published again after an error: an earlier try may have landed too, unacknowledged. */
  readonly retried: boolean;
}

/** Reads the partition from offset 0 until `stop()` holds and the end is reached: what it got, in order, and where it stopped. */
async function follow(log: Log, topic: string, stop: () => boolean) {
  const seen: { offset: number; value: string }[] = [];
  let offset = 0;
  for (;;) {
    const done = stop();
    const page = await log.read(topic, 0, offset, 100);
    seen.push(...page.records.map((r) => ({ offset: r.offset, value: r.value.toString() })));
    if (page.nextOffset === offset && done) return { seen, nextOffset: offset };
    offset = page.nextOffset;
    if (page.records.length === 0) await new Promise((r) => setTimeout(r, 20));
  }
}

async function scenario(mode: Mode, seed: number, rate: number) {
  const random = prng(seed);
  const faults = noFaults();
  // A group reading the topic from the start, its deliverer recording what it sends.
  const group = await subscribedTopic(RETENTION);
  const { topic } = group;
  let writing = true;
  // A reader and a deliverer with no faults, alongside the writers; both stop at holes.
  const alongside = follow(newLog(), topic, () => !writing);
  const delivering = (async () => {
    while (writing) {
      await group.deliver();
      await new Promise((r) => setTimeout(r, 20));
    }
    await group.deliver();
  })();
  const acked: Acked[] = [];
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      let generation = 0;
      let current = instance(random, rate, faults, generation);
      for (let seq = 0; seq < APPENDS; seq++) {
        for (let tries = 1; ; tries++) {
          try {
            const offset = await current.publish(mode, topic, writer, seq);
            acked.push({ writer, seq, offset, retried: tries > 1 });
            break;
          } catch (error) {
            // 409: the key's earlier attempt holds its lock; its append has returned, so it cannot commit.
            if (current.dead() || error instanceof ConflictError)
              current = instance(random, rate, faults, ++generation);
            // Otherwise only what the API answers 503 (retry) is expected.
            else if (toErrorResult(error).statusCode !== 503) throw error;
            if (tries > 30) throw new Error(`writer ${writer} could not publish ${seq}: ${error}`);
          }
        }
      }
    }),
  );
  writing = false;
  const during = await alongside;
  await delivering;
  const deliveredDuring = group.delivered();

  // After the settling time (a clock that far ahead), holes left by dead instances are filled with gaps;
  // the deliverer then goes on past them.
  const later = newLog({ now: () => Date.now() + SETTLE_AFTER_MS + RESERVATION_COMMIT_MS + 5_000 });
  const after = await follow(later, topic, () => true);
  await group.deliver();
  const delivered = group.received.flatMap((b) =>
    b.events.map((e) => ({ offset: e.offset, value: JSON.stringify(e.value) })),
  );
  return { faults, acked, during, after, topic, deliveredDuring, delivered };
}

describe('appends under random faults', () => {
  test.each([
    ['plain', 'an event acknowledged at its first try is there once'],
    ['idempotent', 'with an Idempotency-Key every event is there once, retried or not'],
    ['large', 'segments in S3 read back whole'],
  ] as const)(
    'crowded writers (%s) meeting lost answers, refused requests and dying instances lose no acknowledged event, readers skip none; %s',
    async (mode, _expectation) => {
      const totals: Record<string, number> = {};
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
          const { faults, acked, during, after, topic, deliveredDuring, delivered } = await scenario(
            mode,
            seed,
            0.06,
          );
          for (const [fault, n] of Object.entries(faults)) totals[fault] = (totals[fault] ?? 0) + n;

          // Every acknowledged event is read back where it was acknowledged, and each writer's in its order.
          expect(acked).toHaveLength(WRITERS * APPENDS);
          const byOffset = new Map(after.seen.map((e) => [e.offset, idOf(e.value)]));
          for (const { writer, seq, offset } of acked) expect(byOffset.get(offset)).toEqual({ writer, seq });
          for (let writer = 0; writer < WRITERS; writer++) {
            const offsets = acked.filter((a) => a.writer === writer).map((a) => a.offset);
            expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
          }
          // An event acknowledged at its first try is there once: a lost answer never makes a duplicate.
          const copies = new Map<string, number>();
          for (const e of after.seen) {
            const id = JSON.stringify(idOf(e.value));
            copies.set(id, (copies.get(id) ?? 0) + 1);
          }
          for (const { writer, seq } of acked.filter((a) => mode === 'idempotent' || !a.retried))
            expect(copies.get(JSON.stringify({ writer, seq }))).toBe(1);
          // Offsets only increase, one event each.
          const offsets = after.seen.map((e) => e.offset);
          expect(offsets.every((o, i) => i === 0 || offsets[i - 1] < o)).toBe(true);
          // The reader alongside saw, in order, every acknowledged event below where it stopped: it skipped none.
          const seenDuring = new Map(during.seen.map((e) => [e.offset, e.value]));
          const below = acked.filter((a) => a.offset < during.nextOffset);
          for (const { writer, seq, offset } of below)
            expect(idOf(seenDuring.get(offset) ?? 'null')).toEqual({ writer, seq });
          const duringOffsets = during.seen.map((e) => e.offset);
          expect(duringOffsets.every((o, i) => i === 0 || duringOffsets[i - 1] < o)).toBe(true);
          // The deliverer sent what the reader reads, each event once, in offset order; before the holes
          // were settled it had skipped none of the acknowledged events below where it stood.
          expect(delivered).toEqual(after.seen.map((e) => ({ offset: e.offset, value: e.value })));
          const reached = Math.max(-1, ...deliveredDuring);
          const sentBefore = new Set(deliveredDuring);
          expect(acked.filter((a) => a.offset <= reached && !sentBefore.has(a.offset))).toEqual([]);
          // Below the top, each offset holds one event or lies in a gap.
          const items = (await partitionItems(topic, 0)).filter((i) => (i.sk as number) >= 0);
          const covered = items.flatMap((i) =>
            Array.from({ length: (i.last as number) - (i.sk as number) + 1 }, (_, k) => (i.sk as number) + k),
          );
          expect(covered).toEqual(Array.from({ length: covered.length }, (_, k) => k));
          totals.reserved = (totals.reserved ?? 0) + items.filter((i) => i.rt !== undefined && !i.gap).length;
          totals.inS3 = (totals.inS3 ?? 0) + items.filter((i) => i.s3Key !== undefined).length;
          totals.gaps = (totals.gaps ?? 0) + items.filter((i) => i.gap && !i.closes).length;
          totals.heldUp = (totals.heldUp ?? 0) + (during.nextOffset < after.nextOffset ? 1 : 0);
          const events = new Set(offsets);
          expect(items.filter((i) => !i.gap).every((i) => events.has(i.sk as number))).toBe(true);
        }),
        { numRuns: 6, endOnFailure: true },
      );
      // The runs met every kind of fault, the partition went into epochs, and a dead instance's
      // reservation held the reader alongside up at a hole, later settled: each window was exercised.
      for (const fault of RANDOM_FAULTS) expect(totals[fault]).toBeGreaterThan(0);
      expect(totals.reserved).toBeGreaterThan(0);
      if (mode === 'large') expect(totals.inS3).toBeGreaterThan(0);
      expect(totals.heldUp).toBeGreaterThan(0);
    },
    600_000,
  );
});
