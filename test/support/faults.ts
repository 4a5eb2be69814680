import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from './aws';

/**
 * How a write fails the way a process or a network does: before the request
 * leaves, or after DynamoDB applied it but before the answer arrives.
 */
export type Fault = 'crash-before-send' | 'lose-answer';

/** Which requests meet which faults, in order: each fault is used once. */
export interface FaultRule {
  /** The command (`PutItemCommand`, …) and its input as the document client passes it on. */
  readonly when: (command: string, input: any) => boolean;
  readonly faults: Fault[];
}

/**
 * A DynamoDB document client whose matching requests meet the given faults.
 * The behaviour under test (conditional writes) runs in DynamoDB Local; only
 * the failure is injected.
 */
export function faultyDynamo(rules: readonly FaultRule[]): DynamoDBDocumentClient {
  const client = new DynamoDBClient({});
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = (args as { input: unknown }).input;
      const rule = rules.find((r) => r.faults.length > 0 && r.when(context.commandName ?? '', input));
      const fault = rule?.faults.shift();
      if (fault === 'crash-before-send')
        throw Object.assign(new Error('process died'), { name: 'ProcessCrash' });
      const result = await next(args);
      if (fault === 'lose-answer')
        throw Object.assign(new Error('socket hang up'), { name: 'NetworkingError' });
      return result;
    },
    { step: 'initialize', name: 'injectFault' },
  );
  return documentClient(client);
}

/** Any PutItem. */
export const isPut = (command: string) => /^Put/.test(command);
