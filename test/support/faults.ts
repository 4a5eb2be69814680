import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient, s3Client } from './aws';

/** The same seed, the same faults (the corpus's PRNG). */
export { prng } from '../../bench/corpus';

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

/**
 * Faults that hit a request at random: a write refused before it leaves, its
 * answer lost, or its instance dying; a read refused.
 */
export type RandomFault =
  | 'refused'
  | 'lost answer'
  | 'dies before send'
  | 'dies after write'
  | 'read refused';
const WRITE_FAULTS: readonly RandomFault[] = [
  'refused',
  'lost answer',
  'dies before send',
  'dies after write',
];
export const RANDOM_FAULTS: readonly RandomFault[] = [...WRITE_FAULTS, 'read refused'];
export type FaultCounts = Record<RandomFault, number>;

export function noFaults(): FaultCounts {
  return { refused: 0, 'lost answer': 0, 'dies before send': 0, 'dies after write': 0, 'read refused': 0 };
}

/**
 * One instance's clients (DynamoDB, S3) whose writes (PutItem, UpdateItem,
 * PutObject) each meet one of the write faults with probability `rate`, and
 * whose reads are refused with half that, counted in `counts`. Once the
 * instance has died, nothing it sends leaves, not even its clean-up.
 */
export function chaosClients(
  random: () => number,
  rate: number,
  counts: FaultCounts,
): { dynamo: DynamoDBDocumentClient; s3: S3Client; dead: () => boolean } {
  let dead = false;
  const died = () => Object.assign(new Error('instance died'), { name: 'InstanceDied' });
  // One middleware for both clients' stacks, whose types differ only in their commands.
  const chaos = (next: any, context: { commandName?: string }) => async (args: any) => {
    if (dead) throw died();
    const write = /^(Put|Update)/.test(context.commandName ?? '');
    if (random() >= (write ? rate : rate / 2)) return next(args);
    const fault = write ? WRITE_FAULTS[Math.floor(random() * WRITE_FAULTS.length)] : 'read refused';
    counts[fault]++;
    if (fault === 'refused' || fault === 'read refused')
      throw Object.assign(new Error('connect ECONNRESET'), { name: 'NetworkingError' });
    if (fault === 'dies before send') {
      dead = true;
      throw died();
    }
    await next(args);
    if (fault === 'dies after write') {
      dead = true;
      throw died();
    }
    throw Object.assign(new Error('socket hang up'), { name: 'NetworkingError' });
  };
  const dynamo = new DynamoDBClient({});
  dynamo.middlewareStack.add(chaos, { step: 'initialize', name: 'chaos' });
  const s3 = s3Client();
  s3.middlewareStack.add(chaos, { step: 'initialize', name: 'chaos' });
  return { dynamo: documentClient(dynamo), s3, dead: () => dead };
}
