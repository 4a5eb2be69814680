import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { NetworkPolicy } from '../../config';
import { refusedAddressReason, refusedTargetReason } from '../network-policy';
import {
  type DeliveryOutcome,
  type DeliveryTargetClient,
  type OutgoingBatch,
  outcomeOfAnswer,
  retryAfterMs,
} from './target';

/** A webhook's answer is read up to this size (a failure list of 1,000 offsets fits many times over). */
export const MAX_WEBHOOK_ANSWER_BYTES = 256 * 1024;

/**
 * A webhook target: a POST of the batch signed the Standard Webhooks way
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The id is the
 * same for every attempt at the same events, so receivers can drop
 * duplicates. Success is a 2xx within the timeout; redirects are not
 * followed; the answer is read up to a bound. A 429 or 503 is the target's
 * back-pressure (with its `Retry-After`), not a failure of the events. Every address the host name
 * resolves to is checked against the network policy when the connection is
 * made, so a name that resolves to a private address is refused too.
 */
export class WebhookTarget implements DeliveryTargetClient {
  private readonly signer: Webhook;
  private readonly url: URL;

  constructor(
    url: string,
    secret: string,
    private readonly timeoutMs: number,
    private readonly policy: NetworkPolicy,
  ) {
    this.url = new URL(url);
    this.signer = new Webhook(secret);
  }

  async deliver(batch: OutgoingBatch): Promise<DeliveryOutcome> {
    const refused = refusedTargetReason(this.url, this.policy);
    if (refused) return { status: 'failed', error: `webhook refused: ${refused}` };
    const id = `${batch.group}:${batch.topic}:${batch.partition}:${batch.firstOffset}-${batch.lastOffset}`;
    const timestamp = new Date();
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(batch.body)),
      'user-agent': 'eventbus-webhook/1',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': this.signer.sign(id, timestamp, batch.body),
    };
    try {
      const { status, answer, retryAfter } = await this.post(headers, batch.body);
      if (status >= 300 && status < 400) {
        return { status: 'failed', error: `webhook answered ${status} (redirects are not followed)` };
      }
      if (status === 429 || status === 503) {
        return {
          status: 'throttled',
          error: `webhook answered ${status}: ${answer.slice(0, 200)}`,
          retryAfterMs: retryAfterMs(retryAfter, Date.now()),
        };
      }
      if (status < 200 || status >= 300) {
        return { status: 'failed', error: `webhook answered ${status}: ${answer.slice(0, 200)}` };
      }
      return outcomeOfAnswer(answer, batch);
    } catch (error) {
      return { status: 'failed', error: `webhook: ${(error as Error).message}` };
    }
  }

  private post(
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number; answer: string; retryAfter?: string }> {
    const lookup = guardedLookup(this.policy);
    const client = this.url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = client.request(
        this.url,
        { method: 'POST', headers, lookup, agent: false },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_WEBHOOK_ANSWER_BYTES) {
              request.destroy(new Error(`the answer exceeds ${MAX_WEBHOOK_ANSWER_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              answer: Buffer.concat(chunks).toString('utf8'),
              retryAfter: response.headers['retry-after'],
            }),
          );
          response.on('error', reject);
        },
      );
      const timer = setTimeout(
        () => request.destroy(new Error(`no answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      request.on('close', () => clearTimeout(timer));
      request.on('error', reject);
      request.end(body);
    });
  }
}

/** A DNS lookup that refuses addresses the policy does not allow, checked where the connection is made. */
function guardedLookup(policy: NetworkPolicy): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error);
      const allowed = addresses.filter((entry) => refusedAddressReason(entry.address, policy) === undefined);
      if (allowed.length === 0) {
        const reason = refusedAddressReason(addresses[0]?.address ?? hostname, policy) ?? 'no address';
        return callback(new Error(`webhook refused: ${hostname} resolves to ${reason}`));
      }
      if (options.all) return callback(null, allowed);
      return callback(null, allowed[0].address, allowed[0].family);
    });
  }) as LookupFunction;
}
