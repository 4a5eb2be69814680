import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { CursorRef } from './cursor-store';

/**
 * Hands a cursor to a deliverer, without waiting for the delivery: the
 * stream handler and the sweep wake cursors with new events or due retries,
 * and a deliverer out of time hands its backlog on (docs/adr/0005).
 */
export interface Waker {
  wake(refs: readonly CursorRef[]): Promise<void>;
}

/**
 * Wakes each cursor with an asynchronous invocation of the deliverer
 * function (`InvocationType: Event`): Lambda queues it durably and retries
 * it, and the caller goes on at once. Locally the same call reaches the
 * local runtime's Invoke endpoint.
 */
export class LambdaWaker implements Waker {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly delivererFunction: string,
  ) {}

  async wake(refs: readonly CursorRef[]): Promise<void> {
    await Promise.all(
      refs.map((ref) =>
        this.lambda.send(
          new InvokeCommand({
            FunctionName: this.delivererFunction,
            InvocationType: 'Event',
            Payload: Buffer.from(JSON.stringify(ref)),
          }),
        ),
      ),
    );
  }
}
