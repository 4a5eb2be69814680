/**
 * What the bus's functions spend besides their storage requests: CPU, and the bytes they write to
 * CloudWatch Logs, which bills each line ingested. The API is the very handler Lambda runs
 * (`createApiHandler`), called in this process against the emulators, so the CPU measured is the
 * handler's and its SDK clients' (the emulators run in processes of their own); the lines are the ones
 * Powertools writes to stdout, captured and measured instead of printed.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createApiHandler } from '../functions/api/handler';
import { createBus } from '../shared/bus';
import { BusMetrics, busMetrics } from '../shared/observability/metrics';
import { DEFAULT_LIMITS } from '../shared/publish/limits';
import { orderCorpus } from './corpus';
import { percentile } from './load';

const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
/** A Lambda request id and an X-Ray trace header of AWS's lengths: both are written into every line. */
const REQUEST_ID = 'c6af9ac6-7b61-11e6-9a41-93e812345678';
const TRACE_HEADER = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
/** The namespace the construct sets (`EventBus/<stack>/<id>`), as long as a typical one. */
const NAMESPACE = 'EventBus/EventBusStack/Bus';
/** The measured requests are timed in this many slices; the median slice is kept, so a burst of load from elsewhere on the machine does not count. */
export const CPU_SLICES = 5;

export interface ApiPublishMeasured {
  readonly batch: number;
  /** The segment codec the API was given (`none` is the default). */
  readonly codec: string;
  readonly requests: number;
  /** CPU (user + system) of the handler per request, in ms of this machine's cores: the median of the slices. */
  readonly cpuMsPerRequest: number;
  /** The slices' range, for the noise. */
  readonly cpuMsRange: readonly [number, number];
  /** Bytes of the access log line of one successful publish, newline included (written with `accessLog` on). */
  readonly accessLogBytes: number;
  /** Bytes of EMF metric lines per request, flushed once per `requestsPerFlush` requests. */
  readonly emfBytesPerRequest: number;
  readonly requestsPerFlush: number;
  /** Bytes of the EMF line of an instance that saw one request in its second: the most per request. */
  readonly emfBytesAlone: number;
}

/** A Function URL event for `POST /topics/{topic}/events`, as AWS sends it (payload format 2.0). */
function publishEvent(topic: string, body: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: `/topics/${topic}/events`,
    rawQueryString: '',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    isBase64Encoded: false,
    body,
    requestContext: {
      requestId: REQUEST_ID,
      http: { method: 'POST', path: `/topics/${topic}/events` },
    } as APIGatewayProxyEventV2['requestContext'],
  };
}

/** The lines written to stdout while `run` runs, instead of printing them. */
async function captureStdout<T>(run: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  }) as typeof process.stdout.write;
  try {
    return { result: await run(), lines };
  } finally {
    process.stdout.write = write;
  }
}

/** Runs `run` with `vars` in process.env (the SDK and Powertools read it themselves), then restores it. */
async function withEnv<T>(vars: Record<string, string>, run: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    return await run();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

const lineBytes = (lines: readonly string[]) =>
  lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);

/**
 * Publishes corpus events through the API handler in requests of `batch`, as deployed (access log off),
 * after `warmUp` requests for the JIT; measures CPU per request and the EMF bytes, with a flush every
 * `requestsPerFlush` requests as `flushIfDue` makes on a busy instance. Then a few requests with the
 * access log on, for the bytes of its line. `env` holds the emulators' endpoints and the resource names.
 */
export async function measureApiPublish(options: {
  readonly env: Record<string, string>;
  readonly batch: number;
  readonly requests: number;
  readonly warmUp: number;
  readonly requestsPerFlush: number;
  readonly codec?: string;
  /** A JSON Schema registered on the topic first, so every publish is validated against it. */
  readonly schema?: unknown;
}): Promise<ApiPublishMeasured> {
  const { batch, requests, warmUp, requestsPerFlush, codec = 'none', schema } = options;
  const vars = {
    ...options.env,
    EVENTBUS_SEGMENT_CODEC: codec,
    _X_AMZN_TRACE_ID: TRACE_HEADER,
    POWERTOOLS_METRICS_NAMESPACE: NAMESPACE,
    POWERTOOLS_METRICS_DISABLED: 'false',
  };
  return withEnv(vars, async () => {
    const bus = createBus({ adminKey: ADMIN_KEY });
    const topic = `api-b${batch}-${codec}${schema === undefined ? '' : '-schema'}`;
    await bus.topics.create({ name: topic, partitions: 4, retentionHours: 24 });
    if (schema !== undefined) await bus.schemas.register(topic, schema);
    const logger = new Logger({ serviceName: 'eventbus', logLevel: 'INFO' });
    const corpus = orderCorpus((warmUp + requests) * batch, 7);
    const bodies = Array.from({ length: warmUp + requests }, (_, r) => {
      const events = corpus
        .slice(r * batch, (r + 1) * batch)
        .map((e) => `{"key":${JSON.stringify(e.key)},"value":${e.value.toString('utf8')}}`);
      return `{"events":[${events.join(',')}]}`;
    });
    const publisher = (accessLog: boolean) => {
      const api = createApiHandler(bus, DEFAULT_LIMITS, logger, { accessLog });
      return async (body: string) => {
        const result = await api(publishEvent(topic, body), {} as never);
        if (result.statusCode !== 200)
          throw new Error(`publish answered ${result.statusCode}: ${result.body}`);
      };
    };
    const publish = publisher(false);
    await captureStdout(async () => {
      for (const body of bodies.slice(0, warmUp)) await publish(body);
      busMetrics.flush();
    });
    const measured = bodies.slice(warmUp);
    const sliceLength = Math.ceil(measured.length / CPU_SLICES);
    const { result: slices, lines } = await captureStdout(async () => {
      const cpuMs: number[] = [];
      for (let start = 0; start < measured.length; start += sliceLength) {
        const slice = measured.slice(start, start + sliceLength);
        const before = process.cpuUsage();
        for (const [i, body] of slice.entries()) {
          await publish(body);
          if ((start + i + 1) % requestsPerFlush === 0) busMetrics.flush();
        }
        const used = process.cpuUsage(before);
        cpuMs.push((used.user + used.system) / 1000 / slice.length);
      }
      busMetrics.flush();
      return cpuMs;
    });
    const emf = lines.filter((line) => line.includes('"_aws"'));
    if (emf.length !== lines.length) throw new Error(`the API wrote lines other than metrics: ${lines[0]}`);
    const withAccessLog = publisher(true);
    const { lines: access } = await captureStdout(async () => {
      for (const body of measured.slice(0, 10)) await withAccessLog(body);
      busMetrics.flush();
    });
    const alone = await captureStdout(async () => {
      await publish(measured[0]);
      busMetrics.flush();
    });
    return {
      batch,
      codec,
      requests: measured.length,
      cpuMsPerRequest: round(percentile(Float64Array.from(slices).sort(), 0.5) as number),
      cpuMsRange: [round(Math.min(...slices)), round(Math.max(...slices))],
      accessLogBytes: Math.round(lineBytes(access.filter((line) => !line.includes('"_aws"'))) / 10),
      emfBytesPerRequest: round(lineBytes(emf) / measured.length),
      requestsPerFlush,
      emfBytesAlone: lineBytes(alone.lines),
    };
  });
}

/**
 * Bytes the deliverer writes per run for one group: its `delivery run` line and the EMF lines of a run
 * of `batches` batches of `batchEvents` (the run's metrics, flushed at its end, and the per-group
 * figures, each its own line).
 */
export async function measureDelivererLines(batches: number, batchEvents: number): Promise<number> {
  return withEnv({ _X_AMZN_TRACE_ID: TRACE_HEADER, POWERTOOLS_METRICS_DISABLED: 'false' }, async () => {
    const { lines } = await captureStdout(async () => {
      const logger = new Logger({ serviceName: 'eventbus', logLevel: 'INFO' });
      logger.setCorrelationId('billing/3');
      const metrics = new BusMetrics(new Metrics({ serviceName: 'eventbus', namespace: NAMESPACE }));
      const now = Date.now();
      const records = Array.from({ length: batchEvents }, () => ({ timestamp: now - 180 }));
      for (let b = 0; b < batches; b++) metrics.delivered('billing', records, now);
      metrics.runEnded('billing', 0, undefined, now);
      metrics.flush(now);
      const run = { result: 'caught-up', delivered: batches * batchEvents, batches };
      logger.info('delivery run', { cursor: 'billing', partition: 3, ...run });
    });
    return lineBytes(lines);
  });
}

function round(value: number): number {
  return Number(value.toFixed(2));
}
