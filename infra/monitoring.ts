import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BUS_METRICS } from '../shared/observability/metrics';

/** The bus's alarms and dashboard. */
export interface MonitoringOptions {
  /**
   * Whether to create alarms and the dashboard at all.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Alarm when the oldest undelivered event of any consumer group is older than this.
   * @default Duration.minutes(5)
   */
  readonly maxLagAge?: Duration;
  /**
   * What an alarm does when it fires and when it clears (an SNS topic's action, say).
   * @default - nothing: the alarms show in the console only
   */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];
  /**
   * A CloudWatch dashboard of publish, delivery, lag, dead letters and the functions' health.
   * @default true
   */
  readonly dashboard?: boolean;
}

interface BusMonitoringProps extends MonitoringOptions {
  readonly namespace: string;
  readonly functions: readonly lambda.IFunction[];
  readonly dispatcher: lambda.IFunction;
  readonly dispatchFailures: sqs.IQueue;
}

/**
 * Alarms on what an operator must act on — deliveries falling behind, dead letters piling up, stream
 * batches set aside, throttled or failing functions — and a dashboard of the bus's metrics.
 */
export class BusMonitoring extends Construct {
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: BusMonitoringProps) {
    super(scope, id);
    const metric = (name: string, statistic: string, label?: string) =>
      new cloudwatch.Metric({
        namespace: props.namespace,
        metricName: name,
        // Powertools adds the service as a dimension to every metric it emits.
        dimensionsMap: { service: 'eventbus' },
        statistic,
        period: Duration.minutes(1),
        label,
      });
    // Unlabelled for the alarms: a label would turn an alarm's metric into a metric math expression.
    const lagAge = metric(BUS_METRICS.oldestEventAgeMs, 'Maximum');
    const deadLetters = metric(BUS_METRICS.deadLetters, 'Sum');
    const maxLagAge = props.maxLagAge ?? Duration.minutes(5);

    const alarm = (
      alarmId: string,
      description: string,
      options: cloudwatch.CreateAlarmOptions,
      on: cloudwatch.Metric,
    ) => {
      const created = on.createAlarm(this, alarmId, { alarmDescription: description, ...options });
      for (const action of props.alarmActions ?? []) {
        created.addAlarmAction(action);
        created.addOkAction(action);
      }
      this.alarms.push(created);
    };

    alarm(
      'LagAge',
      `A consumer group's oldest undelivered event is older than ${maxLagAge.toHumanString()}: its target fails or is too slow.`,
      {
        threshold: maxLagAge.toMilliseconds(),
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      lagAge,
    );
    alarm(
      'DeadLetters',
      'Events were dead-lettered: read <group>.dlq, fix the cause, then redrive.',
      {
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      deadLetters.with({ period: Duration.minutes(5) }),
    );
    alarm(
      'DispatchFailures',
      'Stream batches were set aside after their retries; the schedules catch up, but the dispatcher is failing.',
      {
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
      props.dispatchFailures.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
    );
    for (const fn of props.functions) {
      const name = fn.node.id;
      alarm(
        `${name}Errors`,
        `The ${name} function fails: see its logs.`,
        {
          threshold: 0,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        },
        fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      );
      alarm(
        `${name}Throttles`,
        `The ${name} function is throttled: raise its reserved concurrency or the account's quota.`,
        {
          threshold: 0,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        },
        fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
      );
    }

    if (props.dashboard === false) return;
    const widget = (title: string, metrics: cloudwatch.IMetric[]) =>
      new cloudwatch.GraphWidget({ title, left: metrics, width: 12, height: 6 });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [
          widget('Published events', [metric(BUS_METRICS.publishedEvents, 'Sum', 'published')]),
          widget('Crowded partitions: conflicts, retries, reserved appends, settled offsets', [
            metric(BUS_METRICS.appendConflicts, 'Sum', 'conflicts'),
            metric(BUS_METRICS.appendRetries, 'Sum', 'retries'),
            metric(BUS_METRICS.reservedAppends, 'Sum', 'reserved appends'),
            metric(BUS_METRICS.settledOffsets, 'Sum', 'settled offsets (writers that died)'),
          ]),
        ],
        [
          widget('Delivered events', [metric(BUS_METRICS.deliveredEvents, 'Sum', 'delivered')]),
          widget('Delivery latency (append to delivered, ms)', [
            metric(BUS_METRICS.deliveryLatencyMs, 'p50', 'p50'),
            metric(BUS_METRICS.deliveryLatencyMs, 'p99', 'p99'),
          ]),
        ],
        [
          widget('Consumer lag', [
            metric(BUS_METRICS.consumerLag, 'Maximum', 'events behind'),
            lagAge.with({ label: 'oldest undelivered event (ms)' }),
          ]),
          widget('Dead letters and redrives', [
            deadLetters.with({ label: 'dead letters' }),
            metric(BUS_METRICS.redrives, 'Sum', 'redriven'),
          ]),
        ],
        [
          widget(
            'Function errors',
            props.functions.map((fn) => fn.metricErrors({ label: fn.node.id })),
          ),
          widget(
            'Function throttles',
            props.functions.map((fn) => fn.metricThrottles({ label: fn.node.id })),
          ),
        ],
      ],
    });
  }
}
