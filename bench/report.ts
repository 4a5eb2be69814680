import type { CodecResult } from './codec';

/** One measured scenario, as printed in the JSON summary. */
export interface ScenarioResult {
  readonly name: string;
  readonly description: string;
  readonly contentType: string;
  readonly eventsPerRequest: number;
  readonly clients: number;
  readonly status: 'measured' | 'skipped';
  readonly skipReason?: string;
  readonly durationS?: number;
  readonly acknowledgedRequests?: number;
  readonly acknowledgedEvents?: number;
  /** Requests that did not get a 200 with every event committed, by status and error code. */
  readonly failedRequests?: Record<string, number>;
  readonly eventsPerSecond?: number;
  readonly requestsPerSecond?: number;
  /** Acknowledgement latency of the 200s as the client saw it: request sent → whole answer read. */
  readonly latencyMs?: {
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
    readonly mean: number;
  };
  /** AWS requests the bus made in this scenario's window, by operation, and per 1,000 acknowledged events. */
  readonly awsRequests?: {
    readonly total: Record<string, number>;
    readonly per1000Events: Record<string, number>;
  };
  readonly segments?: SegmentFigures;
  /** Peak VmRSS of the bus's Node process while this scenario ran. */
  readonly busRssMaxMB?: number;
  /** CPU used while the load ran, in cores (CPU seconds / wall seconds); `machineBusy` is all processes together. */
  readonly cpuCores?: {
    readonly bus: number;
    readonly dynamoDbLocal: number;
    readonly benchClient: number;
    readonly other: number;
    readonly machineBusy: number;
  };
}

export interface SegmentFigures {
  /** Segment items the log table gained for topic `bench`, read from DynamoDB Local after the scenario. */
  readonly committed: number;
  /** Events in them: equals acknowledgedEvents unless something was committed but not acknowledged. */
  readonly events: number;
  readonly eventsPerSegment: number;
  /** Acknowledged requests per segment: above 1 means group commit coalesced concurrent requests. */
  readonly requestsPerSegment: number;
  /** DynamoDB.PutItem calls in the window / segments committed: the hot path's one write (retries included). */
  readonly putItemPerSegment: number;
  /** DynamoDB.UpdateItem calls / segments committed: floors raised by the dispatcher and the sweeper, after the ack. */
  readonly updateItemPerSegment: number;
  /** S3.PutObject calls / segments committed: segments over the inline threshold go to S3 first. */
  readonly s3PutObjectPerSegment: number;
  /** Offsets by which partition floors trail the heads after the scenario (floors are raised after the ack). */
  readonly floorLagEvents: number;
}

export interface TargetResult {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | null;
}

export interface BenchSummary {
  readonly date: string;
  readonly machine: Record<string, unknown>;
  readonly settings: Record<string, unknown>;
  readonly scenarios: ScenarioResult[];
  readonly busRss: {
    readonly maxMB: number;
    readonly maxDuringScenariosMB: number;
    readonly afterStartMB: number;
  };
  readonly dynamoDbLocalRssMaxMB?: number;
  readonly logCheck: Record<string, unknown>;
  readonly codec: CodecResult[];
  readonly targets: TargetResult[];
  readonly shutdown: Record<string, unknown> & { readonly busOutputSinceStart: readonly string[] };
}

/**
 * DynamoDB writes that would be a second write on the publish path. PutItem is the commit; UpdateItem is the
 * raising of floors (by the dispatcher and the sweeper), after the acknowledgement.
 */
const OTHER_WRITES = ['DynamoDB.DeleteItem', 'DynamoDB.BatchWriteItem', 'DynamoDB.TransactWriteItems'];

/** The project's targets, judged from the scenarios. */
export function judgeTargets(
  scenarios: readonly ScenarioResult[],
  busRssMaxDuringScenariosMB: number,
): TargetResult[] {
  const find = (name: string) => scenarios.find((s) => s.name === name && s.status === 'measured');
  const batch100 = find('batch-100');
  const single = find('single-1-client');
  const measured = scenarios.filter((s) => s.status === 'measured' && s.segments);
  const perSegment = measured.map((s) => {
    const total = s.awsRequests?.total ?? {};
    const segments = s.segments?.committed ?? 0;
    const put = total['DynamoDB.PutItem'] ?? 0;
    const others = OTHER_WRITES.reduce((sum, op) => sum + (total[op] ?? 0), 0);
    return { name: s.name, put, segments, others, queries: total['DynamoDB.Query'] ?? 0 };
  });
  const headReads = perSegment.reduce((sum, s) => sum + s.queries, 0);
  const exact = perSegment.every((s) => s.put === s.segments && s.others === 0);
  return [
    {
      target: '≥ 20,000 events/s in batches of 100',
      measured: batch100
        ? `${fmt(batch100.eventsPerSecond)} events/s (${batch100.clients} clients)`
        : 'not measured',
      met: batch100 ? (batch100.eventsPerSecond ?? 0) >= 20_000 : null,
    },
    {
      target: 'single-event ack p99 < 50 ms',
      measured: single ? `p99 ${single.latencyMs?.p99} ms (1 client)` : 'not measured',
      met: single ? (single.latencyMs?.p99 ?? Infinity) < 50 : null,
    },
    {
      target: 'exactly one DynamoDB write per committed segment on the hot path, head known',
      measured:
        `${perSegment.map((s) => `${s.name}: ${s.put} PutItem / ${s.segments} segments`).join('; ')}; ` +
        `DynamoDB.Query in all scenario windows: ${headReads} (appender head reads and the sweeper's, together)`,
      met: perSegment.length > 0 ? exact : null,
    },
    {
      target: 'bus process under 200 MB RSS',
      measured: `max ${busRssMaxDuringScenariosMB} MB during the scenarios`,
      met: busRssMaxDuringScenariosMB < 200,
    },
  ];
}

/** docs/benchmarks.md: how to run, what is measured, the latest results and what bounds them. */
export function renderMarkdown(summary: BenchSummary): string {
  const { machine, settings } = summary;
  const measured = summary.scenarios.filter((s) => s.status === 'measured');
  const operations = [
    ...new Set(measured.flatMap((s) => Object.keys(s.awsRequests?.per1000Events ?? {}))),
  ].sort();
  const lines: string[] = [];
  const row = (cells: unknown[]) =>
    lines.push(
      `| ${cells.map((c) => (c === undefined ? '–' : String(c).replaceAll('|', '\\|'))).join(' | ')} |`,
    );

  lines.push(
    '# Benchmarks',
    '',
    '`npm run bench` (`bench/publish.ts`) starts the bus the way `npm start` does',
    '(`node --require tsx/cjs bench/metered-bus.ts`, the code of `npm start` plus a request counter: one Node process, with DynamoDB Local and',
    's3rver as child processes of their own) on a fresh temporary data',
    'directory and a free port, creates topic `bench` (8 partitions, 24 h retention), publishes keyless events with',
    '1 KiB values from a fixed number of keep-alive HTTP clients for a fixed time per scenario, and prints one JSON',
    'object with everything. A complete run rewrites this page, keeping the sections the other benchmarks write',
    '(`tsx bench/appenders.ts`: independent appenders, Lambda-like; `tsx bench/compression.ts`: compression of',
    '`bench/corpus.ts` events; `tsx bench/cost.ts`: the cost model, at the end of the page). It is a benchmark, not a test: it fails',
    'only when the bus cannot be started or stopped. Knobs: `BENCH_SECONDS` (per scenario, default 8),',
    '`BENCH_CLIENTS` (default 16), `BENCH_WARMUP_SECONDS` (default 20), `BENCH_SCENARIOS` (names, comma-separated),',
    "`BENCH_BUS_NODE_FLAGS` (extra flags for the bus's `node`, e.g. `--cpu-prof --cpu-prof-dir=prof`; these two",
    "leave this page alone), `BENCH_VERBOSE=1` (the bus's output on stderr). `npm run -s bench` keeps npm's banner",
    'off stdout, leaving only the JSON.',
    '',
    'What each figure is:',
    '',
    '- **events/s, requests/s** — events (requests) answered 200 with an offset for every event, divided by the time',
    '  from the first request to the last answer. Clients run a closed loop: each sends its next request when the',
    '  previous one is answered.',
    '- **p50 / p99 / max** — acknowledgement latency seen by the client, request sent → whole answer read; the bus',
    '  answers only after the segment is committed.',
    '- **AWS requests per 1,000 events** — the bus counts its SDK calls by operation (`bench/metered-bus.ts`,',
    '  dumped on SIGUSR2 before and after each scenario); the difference is divided by the events acknowledged. It',
    '  includes background work in the same window: floors raised by the dispatcher from the stream and by the',
    '  sweeper (`UpdateItem`; the sweeper, once a minute, also lists topics and reads heads: `Query`, `GetItem`, and',
    '  lists S3 for orphans), and the topic-config refresh (`GetItem`, once a minute).',
    "  The stream poller's own `GetRecords` calls are local-runtime plumbing and are not counted.",
    '- **segments, PutItem/segment** — segment items the log table gained, read straight from DynamoDB Local after',
    '  the scenario; every `PutItem` in the window divided by them (the bench creates no topics and sends no',
    '  `Idempotency-Key` during a scenario, so these are the log commits, conditional-check retries included).',
    '- **RSS** — `VmRSS` of the bus Node process, sampled every 200 ms (s3rver and DynamoDB Local are processes',
    '  of their own; the JVM is reported apart, s3rver counts in "other"). **CPU** — CPU seconds over wall',
    '  seconds while the load ran, from',
    '  `/proc/<pid>/stat`; "client" is the benchmark process itself, which shares the machine, and "other" is the',
    "  rest of the machine's busy time (`/proc/stat`) — anything else running skews a run, and shows there.",
    '',
    `## Latest results — ${summary.date}`,
    '',
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.totalMemoryMB} MB, Node ${machine.node}, ${machine.java}. ` +
      `${settings.scenarioSeconds} s per scenario after a ${settings.warmupSeconds} s warm-up; topic \`bench\`, 8 partitions.`,
    '',
  );
  const columns: [string, (s: ScenarioResult) => unknown][] = [
    ['scenario', (s) => s.name],
    ['events/request', (s) => s.eventsPerRequest],
    ['clients', (s) => s.clients],
    ['events/s', (s) => fmt(s.eventsPerSecond)],
    ['requests/s', (s) => fmt(s.requestsPerSecond)],
    ['p50 ms', (s) => s.latencyMs?.p50],
    ['p99 ms', (s) => s.latencyMs?.p99],
    ['max ms', (s) => s.latencyMs?.max],
    ['failed requests', (s) => Object.values(s.failedRequests ?? {}).reduce((a, b) => a + b, 0)],
    ['segments', (s) => s.segments?.committed],
    ['requests/segment', (s) => s.segments?.requestsPerSegment],
    ['PutItem/segment', (s) => s.segments?.putItemPerSegment],
    ['UpdateItem/segment (floors)', (s) => s.segments?.updateItemPerSegment],
    ['bus RSS max MB', (s) => s.busRssMaxMB],
    [
      'CPU cores: bus / DynamoDB Local / client / other',
      ({ cpuCores: c }) => (c ? `${c.bus} / ${c.dynamoDbLocal} / ${c.benchClient} / ${c.other}` : undefined),
    ],
  ];
  row(columns.map(([title]) => title));
  row(columns.map(() => '---'));
  for (const s of summary.scenarios) {
    if (s.status === 'skipped') {
      const cells: unknown[] = [s.name, s.eventsPerRequest, s.clients, `skipped: ${s.skipReason}`];
      row([...cells, ...Array(columns.length - cells.length).fill('')]);
    } else {
      row(columns.map(([, cell]) => cell(s)));
    }
  }
  lines.push('', 'AWS requests per 1,000 acknowledged events:', '');
  row(['operation', ...measured.map((s) => s.name)]);
  row(Array(measured.length + 1).fill('---'));
  for (const op of operations) row([op, ...measured.map((s) => s.awsRequests?.per1000Events[op] ?? 0)]);

  lines.push('', '## Targets', '');
  row(['target', 'measured', 'met']);
  row(['---', '---', '---']);
  for (const t of summary.targets)
    row([t.target, t.measured, t.met === null ? 'not measured' : t.met ? 'met' : 'not met']);

  lines.push('', '## Segment codec (in process)', '');
  row(['codec', 'records × value', 'segment bytes', 'encode µs', 'decode µs']);
  row(['---', '---', '---', '---', '---']);
  for (const c of summary.codec)
    row([c.codec, `${c.records} × ${c.valueBytes} B`, c.segmentBytes, c.encodeUs, c.decodeUs]);

  lines.push(
    '',
    '## What bounds these figures',
    '',
    'Locally the storage is two emulators, both far slower than the services they stand in for: DynamoDB Local is',
    'a Java process with SQLite underneath (every conditional `PutItem` is a SQLite transaction, and the log table has',
    'a stream and an index to maintain), and s3rver writes each object and its metadata as files. On AWS a',
    '`PutItem` takes single-digit milliseconds and partitions scale out; here every write goes through one SQLite',
    "file. DynamoDB Local's JVM also keeps getting faster for more than a minute of load as its JIT warms up, so the",
    'single-event figures depend on how long it has run (`settings.warmupRequestsPerSecond` in the JSON shows the',
    'curve; a longer `BENCH_WARMUP_SECONDS` raises them). The other bound is CPU: on this',
    `${machine.cpus}-core machine the bus's Node process (HTTP, JSON, segment encoding, the AWS SDK, the stream poller`,
    'and dispatcher), s3rver, the JVM and the load generator share the same cores — the',
    'CPU column shows how they split them.',
    '',
    ...emulatorFigures(summary),
    'Runs vary with how warm DynamoDB Local is and what else the machine does: back-to-back runs of the same',
    'code have differed by 15-20 % in batch throughput, so compare a change over several runs.',
    'So these numbers are a floor for a deployment, useful to compare changes to the bus with each other, not a',
    'prediction of throughput on Lambda. The request counts and the writes per segment, by contrast, are what a',
    'deployment would do too. The RSS is also a local-mode figure: the process compiles TypeScript through',
    "tsx's CommonJS hook (`--require tsx/cjs`; its ESM loader, `--import tsx`, would add a thread and heap of",
    'about 40 MB), which a bundled Lambda does not carry. s3rver and DynamoDB Local run in processes of their own.',
    '',
  );
  return lines.join('\n');
}

/** Sentences with this run's own numbers on how busy the emulator and the machine were. */
function emulatorFigures(summary: BenchSummary): string[] {
  const find = (name: string) => summary.scenarios.find((s) => s.name === name && s.status === 'measured');
  const sentences: string[] = [];
  const small = find('batch-1');
  if (small?.cpuCores && small.awsRequests && small.durationS) {
    const dynamoRequests = Object.entries(small.awsRequests.total)
      .filter(([op]) => op.startsWith('DynamoDB.'))
      .reduce((sum, [, n]) => sum + n, 0);
    const perSecond = dynamoRequests / small.durationS;
    const cpus = Number(summary.machine.cpus);
    const verdict =
      small.cpuCores.machineBusy < 0.7 * cpus
        ? "with CPU to spare, the emulator's latency bounds small requests"
        : "so CPU (mostly the JVM's) and the emulator's latency bound small requests together";
    sentences.push(
      `In this run, at batch-1, DynamoDB Local used ${small.cpuCores.dynamoDbLocal} cores for ${Math.round(perSecond)} ` +
        `DynamoDB requests/s counted by the bus — about ${((small.cpuCores.dynamoDbLocal * 1000) / perSecond).toFixed(1)} ms ` +
        "of CPU each (the stream poller's reads, uncounted, add to its load) — while the machine as a whole was " +
        `${small.cpuCores.machineBusy} of ${cpus} cores busy: ${verdict}.`,
    );
  }
  const large = find('batch-100');
  if (large?.cpuCores) {
    const c = large.cpuCores;
    sentences.push(
      `At batch-100 the machine was ${c.machineBusy} of ${summary.machine.cpus} cores busy (bus ${c.bus}, ` +
        `DynamoDB Local ${c.dynamoDbLocal}, client ${c.benchClient})` +
        (c.bus >= 0.9
          ? ': the bus process used about a full core, and its one JavaScript thread is close to saturated there.'
          : '.'),
    );
  }
  return sentences.length > 0 ? [sentences.join(' '), ''] : [];
}

function fmt(value: number | undefined): string {
  return value === undefined ? '–' : Math.round(value).toLocaleString('en-US');
}
