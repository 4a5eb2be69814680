import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { Webhook } from 'standardwebhooks';
import { parseNetworkPolicy } from '../../../shared/config';
import { STRICT_NETWORK_POLICY } from '../../../shared/delivery/network-policy';
import { newWebhookSecret } from '../../../shared/delivery/subscription';
import { MAX_WEBHOOK_ANSWER_BYTES, WebhookTarget } from '../../../shared/delivery/targets/webhook-target';

const LOCAL = parseNetworkPolicy('loopback,http');
let server: Server;
let port: number;
let respond: (
  res: import('node:http').ServerResponse,
  headers: import('node:http').IncomingHttpHeaders,
  body: string,
) => void;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => respond(res, req.headers, Buffer.concat(chunks).toString()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const batch = (body = '{"events":[]}') => ({
  group: 'g',
  topic: 't',
  partition: 0,
  firstOffset: 3,
  lastOffset: 4,
  body,
});

describe('webhook target', () => {
  test('signs the batch so the receiver can verify it with the secret, with an id stable across attempts', async () => {
    const secret = newWebhookSecret();
    const seen: string[] = [];
    respond = (res, headers, body) => {
      new Webhook(secret).verify(body, headers as Record<string, string>);
      seen.push(headers['webhook-id'] as string);
      res.writeHead(204).end();
    };
    const target = new WebhookTarget(`http://127.0.0.1:${port}/hook`, secret, 2_000, LOCAL);
    expect(await target.deliver(batch())).toEqual({ status: 'delivered' });
    expect(await target.deliver(batch())).toEqual({ status: 'delivered' });
    expect(seen).toEqual(['g:t:0:3-4', 'g:t:0:3-4']);
  });

  test('does not follow a redirect, and fails on a non-2xx answer', async () => {
    respond = (res) => res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
    const target = new WebhookTarget(`http://127.0.0.1:${port}/`, newWebhookSecret(), 2_000, LOCAL);
    expect(await target.deliver(batch())).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('302'),
    });
    respond = (res) => res.writeHead(500).end('oops');
    expect(await target.deliver(batch())).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('500'),
    });
  });

  test('reads the answer only up to its bound', async () => {
    respond = (res) => res.writeHead(200).end('x'.repeat(MAX_WEBHOOK_ANSWER_BYTES + 1));
    const target = new WebhookTarget(`http://127.0.0.1:${port}/`, newWebhookSecret(), 2_000, LOCAL);
    expect(await target.deliver(batch())).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('exceeds'),
    });
  });

  test('reads batchItemFailures, and fails the batch when they name offsets outside it', async () => {
    const target = new WebhookTarget(`http://127.0.0.1:${port}/`, newWebhookSecret(), 2_000, LOCAL);
    respond = (res) =>
      res.writeHead(200).end(JSON.stringify({ batchItemFailures: [{ itemIdentifier: '4' }] }));
    expect(await target.deliver(batch())).toMatchObject({ status: 'partial', lowestFailed: 4 });
    respond = (res) =>
      res.writeHead(200).end(JSON.stringify({ batchItemFailures: [{ itemIdentifier: '99' }] }));
    expect(await target.deliver(batch())).toMatchObject({ status: 'failed' });
  });

  test('refuses, when connecting, a host name that resolves to a loopback address the deployment does not allow', async () => {
    let reached = false;
    respond = (res) => {
      reached = true;
      res.writeHead(200).end();
    };
    // This machine's own name resolves to loopback; with AWS's policy (and http allowed, to isolate the address check)
    const policy = { ...STRICT_NETWORK_POLICY, allowHttp: true };
    const target = new WebhookTarget(`http://${os.hostname()}:${port}/`, newWebhookSecret(), 2_000, policy);
    const outcome = await target.deliver(batch());
    expect(outcome).toMatchObject({ status: 'failed', error: expect.stringContaining('refused') });
    expect(reached).toBe(false);
    // and an address literal is refused before any connection
    const literal = new WebhookTarget(`http://127.0.0.1:${port}/`, newWebhookSecret(), 2_000, policy);
    expect(await literal.deliver(batch())).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('loopback'),
    });
    expect(reached).toBe(false);
  });

  test('refuses plain http unless the deployment allows it', async () => {
    const target = new WebhookTarget(`http://example.com/`, newWebhookSecret(), 2_000, STRICT_NETWORK_POLICY);
    expect(await target.deliver(batch())).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('https'),
    });
  });
});
