import { createServer } from 'node:net';

/** A publish request as the fetch wrapper saw it. */
interface SeenPublish {
  readonly idempotencyKey: string | null;
  readonly bodyBytes: number;
  readonly events: number;
}

function isPublish(input: string | URL | Request, init?: RequestInit): boolean {
  const url = String(input instanceof Request ? input.url : input);
  return (init?.method ?? 'GET') === 'POST' && /\/topics\/[^/]+\/events$/.test(new URL(url).pathname);
}

function idempotencyKeyOf(init?: RequestInit): string | null {
  return new Headers(init?.headers).get('idempotency-key');
}

/**
 * The real fetch, counting the publish requests it forwards to the bus
 * (the bus stays real; only the client's side is observed).
 */
export function countingFetch(): { fetch: typeof fetch; publishes: SeenPublish[] } {
  const publishes: SeenPublish[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    if (isPublish(input as string, init)) {
      const body = String(init?.body ?? '');
      publishes.push({
        idempotencyKey: idempotencyKeyOf(init),
        bodyBytes: Buffer.byteLength(body),
        events: (JSON.parse(body) as { events: unknown[] }).events.length,
      });
    }
    return fetch(input, init);
  };
  return { fetch: wrapped, publishes };
}

/**
 * Injects faults into publish requests, `every` n-th one: `refuse` answers
 * 503 with `Retry-After: 0` without forwarding (the bus never sees it);
 * `drop-answer` forwards it (the bus commits) and then loses the answer,
 * as a connection reset would — only the Idempotency-Key stops the retry
 * from appending the events again.
 */
export function faultyFetch(
  fault: 'refuse' | 'drop-answer',
  every: number,
): { fetch: typeof fetch; injected: () => number; keys: (string | null)[] } {
  let publishes = 0;
  let injected = 0;
  const keys: (string | null)[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    if (!isPublish(input as string, init)) return fetch(input, init);
    keys.push(idempotencyKeyOf(init));
    if (++publishes % every !== 0) return fetch(input, init);
    injected++;
    if (fault === 'refuse') {
      return new Response(
        JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'injected by the test' } }),
        { status: 503, headers: { 'content-type': 'application/json', 'retry-after': '0' } },
      );
    }
    const answer = await fetch(input, init);
    await answer.arrayBuffer();
    throw new TypeError('fetch failed', {
      cause: Object.assign(new Error('injected'), { code: 'ECONNRESET' }),
    });
  };
  return { fetch: wrapped, injected: () => injected, keys };
}

/** A TCP port free now on loopback, for a bus that must come back on the same URL after a restart. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
