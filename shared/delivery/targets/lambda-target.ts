import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  type DeliveryOutcome,
  type DeliveryTargetClient,
  type OutgoingBatch,
  outcomeOfAnswer,
  retryAfterMs,
} from './target';

/**
 * Lambda's answers that the function cannot run more now (its concurrency, or the account's, is used up;
 * its network interfaces are being throttled): back-pressure, not a failure of the events.
 */
const THROTTLES = new Set(['TooManyRequestsException', 'EC2ThrottledException']);

/**
 * A Lambda function target, invoked request-response through the Invoke API
 * (locally, the local runtime's Invoke endpoint runs the user's module). A
 * function error, or an invocation that fails or outlasts `timeoutMs`, fails
 * the batch; the function's answer may list failed events. Lambda's
 * throttling is back-pressure: the batch is sent again whole.
 */
export class LambdaTarget implements DeliveryTargetClient {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly functionName: string,
    private readonly timeoutMs: number,
  ) {}

  async deliver(batch: OutgoingBatch): Promise<DeliveryOutcome> {
    try {
      const answer = await this.lambda.send(
        new InvokeCommand({
          FunctionName: this.functionName,
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(batch.body),
        }),
        { abortSignal: AbortSignal.timeout(this.timeoutMs) },
      );
      const text = answer.Payload ? Buffer.from(answer.Payload).toString('utf8') : '';
      if (answer.FunctionError) {
        return {
          status: 'failed',
          error: `function ${this.functionName} failed: ${functionErrorMessage(text)}`,
        };
      }
      return outcomeOfAnswer(text, batch);
    } catch (error) {
      if (THROTTLES.has((error as Error).name)) {
        return {
          status: 'throttled',
          error: `invoking ${this.functionName}: ${(error as Error).name}: ${(error as Error).message}`,
          retryAfterMs: retryAfterMs((error as { retryAfterSeconds?: string }).retryAfterSeconds, Date.now()),
        };
      }
      const message =
        (error as Error).name === 'AbortError' || (error as Error).name === 'TimeoutError'
          ? `no answer within ${this.timeoutMs} ms`
          : (error as Error).message;
      return { status: 'failed', error: `invoking ${this.functionName}: ${message}` };
    }
  }
}

/** Lambda reports an unhandled error as `{"errorType", "errorMessage", …}`. */
function functionErrorMessage(payload: string): string {
  try {
    const parsed = JSON.parse(payload) as { errorType?: string; errorMessage?: string };
    return [parsed.errorType, parsed.errorMessage].filter(Boolean).join(': ') || payload;
  } catch {
    return payload;
  }
}
