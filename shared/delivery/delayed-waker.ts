import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * A lease taken, to be looked at again once it would lapse: the cursor and the
 * lease's epoch (docs/adr/0019). The body of a lease-wake message.
 */
export interface LeaseWake {
  readonly cursor: string;
  readonly partition: number;
  /** The `leaseEpoch` of the acquisition that armed it: a later acquisition armed its own. */
  readonly epoch: number;
}

/**
 * Wakes a cursor's lease check later, not now: a deliverer arms one when it
 * takes a lease, due just after the lease would lapse, so that a holder that
 * dies on a quiet partition is taken over without waiting for the sweep
 * (docs/adr/0019). What is done when it is due is the dispatcher's
 * (`Dispatcher.onLeaseWakeDue`).
 */
export interface DelayedWaker {
  /** Has `wake` handed to the dispatcher at `dueAt` (epoch ms), or as soon after as the queue allows. */
  wakeAt(wake: LeaseWake, dueAt: number): Promise<void>;
}

/** The longest delay SQS gives a message: 15 minutes. */
export const MAX_DELAY_SECONDS = 900;

/**
 * The seconds to delay a message due at `dueAt`: rounded up, so it is never
 * early (SQS counts whole seconds), and within what SQS allows; a wake due
 * later than that comes early and is armed again.
 *
 * @example
 * delaySeconds(10_200, 0); // 11
 */
export function delaySeconds(dueAt: number, now: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((dueAt - now) / 1000)));
}

/**
 * Lease wakes as delayed messages of an SQS standard queue (`DelaySeconds`),
 * which the dispatcher consumes: one `SendMessage` per lease taken.
 *
 * @example
 * const wakes = new SqsDelayedWaker(new SQSClient({}), process.env.EVENTBUS_LEASE_WAKE_QUEUE_URL);
 * await wakes.wakeAt({ cursor: 'billing', partition: 0, epoch: 7 }, Date.now() + 11_000);
 */
export class SqsDelayedWaker implements DelayedWaker {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly now: () => number = Date.now,
  ) {}

  async wakeAt(wake: LeaseWake, dueAt: number): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(wake),
        DelaySeconds: delaySeconds(dueAt, this.now()),
      }),
    );
  }
}
