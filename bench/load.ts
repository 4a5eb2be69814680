import { Agent, request } from 'node:http';

/** One kind of publish request, sent over and over by `concurrency` clients. */
export interface PublishLoad {
  readonly url: string;
  /** Headers of the next request (CloudEvents want a fresh `ce-id` each time). */
  readonly headers: () => Record<string, string>;
  readonly body: Buffer;
  /** Events in one request: each 200 must hold this many results. */
  readonly eventsPerRequest: number;
  readonly concurrency: number;
  /** No request starts after this; the ones in flight are waited for. */
  readonly durationMs: number;
}

export interface LoadResult {
  /** Requests answered 200 with one result per event. */
  readonly acknowledgedRequests: number;
  readonly acknowledgedEvents: number;
  /** From the first request's start to the last answer. */
  readonly elapsedMs: number;
  /** Acknowledgement latency of each 200, in ms: request sent → whole answer read. */
  readonly latenciesMs: Float64Array;
  /** Requests that failed, by `HTTP <status> <code>` or the network error. */
  readonly failures: Record<string, number>;
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/**
 * Sends one request over a keep-alive connection from `agent`.
 *
 * @example
 * const { status, body } = await send(agent, 'POST', `${url}/topics/t/events`, headers, payload);
 */
export function send(
  agent: Agent,
  method: string,
  url: string,
  headers: Readonly<Record<string, string>>,
  body?: Buffer,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, agent, headers: body ? { ...headers, 'content-length': String(body.length) } : headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `HTTP 503 UNAVAILABLE`: the status and the API's error code, to group failures by. */
export function describeFailure(answer: HttpAnswer): string {
  try {
    const code = (JSON.parse(answer.body) as { error?: { code?: string } }).error?.code;
    return code ? `HTTP ${answer.status} ${code}` : `HTTP ${answer.status}`;
  } catch {
    return `HTTP ${answer.status}`;
  }
}

/**
 * Runs a closed loop: each client sends its next request as soon as the
 * previous one is answered, until the time is up.
 */
export async function runLoad(load: PublishLoad): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: load.concurrency });
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const started = performance.now();
  const deadline = started + load.durationMs;
  let lastAnswer = started;

  const client = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const sent = performance.now();
      let failure: string | undefined;
      try {
        const answer = await send(agent, 'POST', load.url, load.headers(), load.body);
        if (answer.status !== 200) failure = describeFailure(answer);
        else if (resultCount(answer.body) !== load.eventsPerRequest)
          failure = 'HTTP 200 with a wrong number of results';
      } catch (error) {
        failure = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      }
      lastAnswer = performance.now();
      if (failure) failures[failure] = (failures[failure] ?? 0) + 1;
      else latencies.push(lastAnswer - sent);
    }
  };
  try {
    await Promise.all(Array.from({ length: load.concurrency }, client));
  } finally {
    agent.destroy();
  }
  return {
    acknowledgedRequests: latencies.length,
    acknowledgedEvents: latencies.length * load.eventsPerRequest,
    elapsedMs: lastAnswer - started,
    latenciesMs: Float64Array.from(latencies),
    failures,
  };
}

/** Results that carry an offset; anything else (an error per event) does not count as acknowledged. */
function resultCount(body: string): number {
  const { results } = JSON.parse(body) as { results?: { offset?: number }[] };
  return results?.filter((r) => typeof r.offset === 'number').length ?? -1;
}

/** Nearest-rank percentile of latencies sorted ascending. */
export function percentile(sorted: Float64Array, p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}
