import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LOCAL_REGION } from './emulators';

/** What a local function's handler gets besides its payload: the part of Lambda's context handlers use. */
export interface LocalContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

export type LocalHandler = (payload: unknown, context: LocalContext) => unknown;

interface LocalFunction {
  readonly handler: LocalHandler;
  readonly timeoutMs: number;
}

/** How long a local function may run unless declared otherwise: Lambda's default is 3 s; consumers need more. */
const DEFAULT_TIMEOUT_MS = 60_000;

/** The account id local ARNs carry, as LocalStack's. */
const LOCAL_ACCOUNT = '000000000000';

/**
 * Lambda functions in local mode: the bus's own (the deliverer) and the
 * user's (`EVENTBUS_LOCAL_FUNCTIONS`), served through the Lambda Invoke API
 * (`POST /2015-03-31/functions/{name}/invocations`) on loopback, so the
 * dispatcher calls them with the same SDK client and the same code as on AWS.
 *
 * @example
 * const functions = new LocalFunctions();
 * functions.register('billing', async (batch) => ({ batchItemFailures: [] }));
 * const server = await functions.serve(0);
 * // AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:<port> makes LambdaClient call it
 */
export class LocalFunctions {
  private readonly functions = new Map<string, LocalFunction>();
  /** Asynchronous invocations in flight (`InvocationType: Event`). */
  private readonly running = new Set<Promise<unknown>>();

  register(name: string, handler: LocalHandler, timeoutMs = DEFAULT_TIMEOUT_MS): void {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      throw new Error(`A local function name is 1 to 64 letters, digits, "-" or "_"; got "${name}".`);
    }
    if (this.functions.has(name)) throw new Error(`Local function "${name}" is declared twice.`);
    this.functions.set(name, { handler, timeoutMs });
  }

  names(): string[] {
    return [...this.functions.keys()];
  }

  /**
   * Loads the functions `EVENTBUS_LOCAL_FUNCTIONS` declares:
   * `name=path/to/module.(ts|js|mjs)#export[,…]` (paths relative to `cwd`,
   * the export `handler` unless named). A declaration that cannot be loaded
   * fails the start, saying which and why.
   */
  async loadDeclared(declarations: string | undefined, cwd = process.cwd()): Promise<void> {
    for (const declaration of (declarations ?? '')
      .split(',')
      .map((d) => d.trim())
      .filter(Boolean)) {
      const match = /^([^=]+)=([^#]+)(?:#(.+))?$/.exec(declaration);
      if (!match) {
        throw new Error(
          `EVENTBUS_LOCAL_FUNCTIONS: "${declaration}" is not name=path/to/module.(ts|js|mjs)#export.`,
        );
      }
      const [, name, modulePath, exportName = 'handler'] = match;
      const file = path.resolve(cwd, modulePath.trim());
      let module: Record<string, unknown>;
      try {
        // .mjs only loads as an ES module; .ts and .js go through require (npm start runs tsx's hook).
        module = file.endsWith('.mjs') ? await import(pathToFileURL(file).href) : require(file);
      } catch (error) {
        throw new Error(
          `EVENTBUS_LOCAL_FUNCTIONS: cannot load ${file} for "${name}": ${(error as Error).message}`,
        );
      }
      const handler =
        module[exportName.trim()] ?? (module.default as Record<string, unknown>)?.[exportName.trim()];
      if (typeof handler !== 'function') {
        throw new Error(
          `EVENTBUS_LOCAL_FUNCTIONS: ${file} has no function export "${exportName}" for "${name}".`,
        );
      }
      this.register(name.trim(), handler as LocalHandler);
    }
  }

  /** Serves the Invoke API on 127.0.0.1 (`port` 0 picks a free one). */
  async serve(port: number): Promise<Server> {
    const server = createServer((request, response) => {
      this.answer(request, response).catch((error) => {
        if (!response.headersSent) respondJson(response, 500, { message: (error as Error).message });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return server;
  }

  /** Waits, at most `timeoutMs`, for asynchronous invocations still running. */
  async idle(timeoutMs: number): Promise<void> {
    const deadline = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
    const all = (async () => {
      while (this.running.size > 0) await Promise.all([...this.running]);
    })();
    await Promise.race([all, deadline]);
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations(?:\?.*)?$/.exec(request.url ?? '');
    if (request.method !== 'POST' || !match) {
      respondError(response, 404, 'ResourceNotFoundException', `No route ${request.method} ${request.url}`);
      return;
    }
    const name = functionNameOf(decodeURIComponent(match[1]));
    const fn = this.functions.get(name);
    if (!fn) {
      respondError(
        response,
        404,
        'ResourceNotFoundException',
        `Function not found: ${name}. Local functions: ${this.names().join(', ') || '(none)'}; declare yours with EVENTBUS_LOCAL_FUNCTIONS.`,
      );
      return;
    }
    const body = await readBody(request);
    let payload: unknown;
    try {
      payload = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      respondError(response, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
      return;
    }
    const type = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (type === 'DryRun') {
      response.writeHead(204).end();
      return;
    }
    if (type === 'Event') {
      // Lambda queues the event and answers at once; the function runs on its own.
      const run = this.invoke(name, fn, payload);
      this.running.add(run);
      run.finally(() => this.running.delete(run));
      response.writeHead(202, { 'x-amzn-requestid': randomUUID() }).end();
      return;
    }
    const outcome = await this.invoke(name, fn, payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amzn-requestid': outcome.requestId,
      'x-amz-executed-version': '$LATEST',
    };
    if (outcome.error) headers['x-amz-function-error'] = 'Unhandled';
    response.writeHead(200, headers).end(JSON.stringify(outcome.error ?? outcome.result ?? null));
  }

  private async invoke(
    name: string,
    fn: LocalFunction,
    payload: unknown,
  ): Promise<{
    requestId: string;
    result?: unknown;
    error?: { errorType: string; errorMessage: string; trace: string[] };
  }> {
    const requestId = randomUUID();
    const started = Date.now();
    const context: LocalContext = {
      functionName: name,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${name}`,
      memoryLimitInMB: '512',
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${name}`,
      logStreamName: 'local',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, fn.timeoutMs - (Date.now() - started)),
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        Promise.resolve().then(() => fn.handler(payload, context)),
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                Object.assign(new Error(`Task timed out after ${(fn.timeoutMs / 1000).toFixed(2)} seconds`), {
                  name: 'Sandbox.Timedout',
                }),
              ),
            fn.timeoutMs,
          );
        }),
      ]);
      return { requestId, result };
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      return {
        requestId,
        error: { errorType: err.name, errorMessage: err.message, trace: (err.stack ?? '').split('\n') },
      };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A function name from a name, a partial or full ARN, with or without a qualifier. */
function functionNameOf(nameOrArn: string): string {
  const arn = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::.*)?$/.exec(nameOrArn);
  if (arn) return arn[1];
  return nameOrArn.split(':')[0];
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function respondJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** An error the way Lambda's REST-JSON protocol sends it, so the SDK raises the named exception. */
function respondError(response: ServerResponse, status: number, type: string, message: string): void {
  respondJson(response, status, { Type: 'User', message }, { 'x-amzn-errortype': type });
}

/** The URL clients use to reach `server`. */
export function invokeEndpoint(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
