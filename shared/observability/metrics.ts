import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { LogRecord } from '../segment/codec';

/** The bus's own metrics, by name: the functions emit them, the construct's alarms and dashboard read them. */
export const BUS_METRICS = {
  publishedEvents: 'PublishedEvents',
  appendConflicts: 'AppendConflicts',
  appendRetries: 'AppendRetries',
  /** Appends committed at reserved offsets (a crowded partition: two writes each, docs/adr/0011). */
  reservedAppends: 'ReservedAppends',
  /** Reserved offsets a reader filled with a gap: their writer died between reserving and committing. */
  settledOffsets: 'SettledOffsets',
  deliveredEvents: 'DeliveredEvents',
  /** From an event's append to its delivery: what a subscriber waits. */
  deliveryLatencyMs: 'DeliveryLatencyMs',
  /** Events a group is behind on a partition, at the end of a delivery run. */
  consumerLag: 'ConsumerLag',
  /** Age of a group's oldest undelivered event, at the end of a delivery run (0 when caught up). */
  oldestEventAgeMs: 'OldestEventAgeMs',
  deadLetters: 'DeadLetters',
  /** Events a subscription's filter left out: committed past, never delivered. */
  filteredEvents: 'FilteredEvents',
  /** Batches a target throttled (429, 503, Lambda's throttling): sent again whole after its Retry-After. */
  throttledDeliveries: 'ThrottledDeliveries',
  redrives: 'Redrives',
} as const;

/**
 * The bus's metrics as the domain sees them: one port, injected by each
 * function role's factory (shared/bus.ts); `BusMetrics` implements it with
 * CloudWatch's embedded metric format. Each domain class takes the part it
 * tells of, and tells nothing when not given one.
 */
export interface MetricsPort extends DeliveryObserver {
  published(events: number): void;
  appendConflict(retried: boolean): void;
  reservedAppend(): void;
  settledOffsets(count: number): void;
  redriven(deadLetters: number): void;
}

/** What the deliverer tells about its work. */
export interface DeliveryObserver {
  delivered(group: string, records: readonly Pick<LogRecord, 'timestamp'>[], now: number): void;
  deadLettered(group: string): void;
  /** Events the group's filter left out: committed past, never delivered. */
  filtered(group: string, count: number): void;
  /** The target throttled a batch of the group's: it goes again whole, later. */
  throttled(group: string): void;
  /** Where the group stands when a run ends; `oldestTimestamp` of its first undelivered event, when known. */
  runEnded(group: string, lag: number, oldestTimestamp: number | undefined, now: number): void;
}

/**
 * The bus's metrics in CloudWatch's embedded metric format (Powertools
 * Metrics): a handler flushes them where it ends, with Powertools' middy
 * middleware (`logMetrics(busMetrics.metrics)`), or with `flushIfDue` where
 * invocations are many and short (the API). The namespace comes from
 * `POWERTOOLS_METRICS_NAMESPACE` (the construct sets it per bus);
 * `POWERTOOLS_METRICS_DISABLED` turns them off (local mode and the tests,
 * where nobody reads stdout for them).
 *
 * @example
 * const metrics = new BusMetrics();
 * metrics.published(3);
 * metrics.flush();
 */
export class BusMetrics implements MetricsPort {
  private made?: Metrics;

  /** `metrics` for a test to read; by default made on first use, so it sees the environment the process set up. */
  constructor(private readonly given?: Metrics) {}

  get metrics(): Metrics {
    this.made ??=
      this.given ??
      new Metrics({
        serviceName: 'eventbus',
        namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'EventBus',
      });
    return this.made;
  }

  published(events: number): void {
    this.metrics.addMetric(BUS_METRICS.publishedEvents, MetricUnit.Count, events);
  }

  appendConflict(retried: boolean): void {
    this.metrics.addMetric(BUS_METRICS.appendConflicts, MetricUnit.Count, 1);
    if (retried) this.metrics.addMetric(BUS_METRICS.appendRetries, MetricUnit.Count, 1);
  }

  reservedAppend(): void {
    this.metrics.addMetric(BUS_METRICS.reservedAppends, MetricUnit.Count, 1);
  }

  settledOffsets(count: number): void {
    this.metrics.addMetric(BUS_METRICS.settledOffsets, MetricUnit.Count, count);
  }

  delivered(group: string, records: readonly Pick<LogRecord, 'timestamp'>[], now: number): void {
    if (records.length === 0) return;
    this.metrics.addMetric(BUS_METRICS.deliveredEvents, MetricUnit.Count, records.length);
    // One latency value per batch, its oldest event's: a high-resolution histogram per event would cost more than it tells.
    this.metrics.addMetric(
      BUS_METRICS.deliveryLatencyMs,
      MetricUnit.Milliseconds,
      now - records[0].timestamp,
    );
    this.perGroup(group, BUS_METRICS.deliveredEvents, MetricUnit.Count, records.length);
  }

  deadLettered(group: string): void {
    this.metrics.addMetric(BUS_METRICS.deadLetters, MetricUnit.Count, 1);
    this.perGroup(group, BUS_METRICS.deadLetters, MetricUnit.Count, 1);
  }

  filtered(group: string, count: number): void {
    this.metrics.addMetric(BUS_METRICS.filteredEvents, MetricUnit.Count, count);
    this.perGroup(group, BUS_METRICS.filteredEvents, MetricUnit.Count, count);
  }

  throttled(group: string): void {
    this.metrics.addMetric(BUS_METRICS.throttledDeliveries, MetricUnit.Count, 1);
    this.perGroup(group, BUS_METRICS.throttledDeliveries, MetricUnit.Count, 1);
  }

  redriven(deadLetters: number): void {
    this.metrics.addMetric(BUS_METRICS.redrives, MetricUnit.Count, deadLetters);
  }

  runEnded(group: string, lag: number, oldestTimestamp: number | undefined, now: number): void {
    this.metrics.addMetric(BUS_METRICS.consumerLag, MetricUnit.Count, lag);
    this.perGroup(group, BUS_METRICS.consumerLag, MetricUnit.Count, lag);
    const age = lag === 0 ? 0 : oldestTimestamp === undefined ? undefined : now - oldestTimestamp;
    if (age === undefined) return;
    this.metrics.addMetric(BUS_METRICS.oldestEventAgeMs, MetricUnit.Milliseconds, age);
    this.perGroup(group, BUS_METRICS.oldestEventAgeMs, MetricUnit.Milliseconds, age);
  }

  private flushedAt = 0;

  /** Writes what was recorded (one EMF line); nothing when nothing was. */
  flush(now = Date.now()): void {
    this.flushedAt = now;
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }

  /**
   * Flushes at most once per `intervalMs`. A log line is billed by its bytes (CloudWatch Logs ingestion), so
   * a busy API instance writes one line a second for all its requests, not one each; what is kept waits for
   * the instance's next request.
   */
  flushIfDue(intervalMs = 1_000, now = Date.now()): void {
    if (now - this.flushedAt >= intervalMs) this.flush(now);
  }

  /** The same figure with the group as a dimension, for per-group alarms. */
  private perGroup(
    group: string,
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number,
  ): void {
    const single = this.metrics.singleMetric();
    single.addDimension('group', group);
    single.addMetric(name, unit, value);
  }
}

/** One per process, as Powertools intends: the factories inject it (shared/bus.ts). */
export const busMetrics = new BusMetrics();

/** Tells nothing: what a domain class tells when no metrics were injected. */
export const NO_METRICS: MetricsPort = {
  published: () => {},
  appendConflict: () => {},
  reservedAppend: () => {},
  settledOffsets: () => {},
  redriven: () => {},
  delivered: () => {},
  deadLettered: () => {},
  filtered: () => {},
  throttled: () => {},
  runEnded: () => {},
};
