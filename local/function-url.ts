import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { LAMBDA_PAYLOAD_BYTES } from '../shared/config';

type UrlHandler = (
  event: APIGatewayProxyEventV2,
  context: unknown,
) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * Looks at a request's method, path and headers before its body is read: an
 * answer refuses it there (say, 401 for a request without a valid key), so a
 * stranger cannot make the bus buffer 6 MB.
 */
export type RequestScreen = (request: {
  method: string;
  path: string;
  headers: Record<string, string>;
}) => Promise<APIGatewayProxyStructuredResultV2 | undefined>;

/**
 * Serves a Lambda handler over HTTP the way a Lambda Function URL does:
 * each request becomes a payload format 2.0 event, the handler's result
 * becomes the response. Bodies of text media types arrive as text, others
 * base64-encoded, as on AWS.
 */
export async function serveFunctionUrl(
  handler: UrlHandler,
  port: number,
  host = '127.0.0.1',
  options: { readonly screen?: RequestScreen } = {},
): Promise<Server> {
  const connections = new Map<Socket, Connection>();
  const server = createServer((req, res) => {
    const connection = connections.get(req.socket);
    if (connection) connection.busy = true;
    // While draining, every answer closes its connection after it.
    if (draining.has(server)) res.setHeader('connection', 'close');
    res.on('close', () => {
      if (!connection) return;
      connection.busy = false;
      connection.served++;
    });
    void respond(handler, req, res, options.screen);
  });
  server.on('connection', (socket: Socket) => {
    connections.set(socket, { since: Date.now(), served: 0, busy: false });
    socket.on('close', () => connections.delete(socket));
  });
  connectionsOf.set(server, connections);
  server.keepAliveTimeout = 65_000;
  // Requests Node's parser refuses (bad framing, too many or too large headers) get the API's error shape too.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
    const body = JSON.stringify({
      error: {
        code: 'INVALID_REQUEST',
        message: tooLarge
          ? 'The request headers are too large; send fewer or smaller headers.'
          : 'The request is not valid HTTP/1.1.',
      },
    });
    socket.end(
      `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

interface Connection {
  /** When it was accepted (epoch ms). */
  readonly since: number;
  served: number;
  busy: boolean;
}

const connectionsOf = new WeakMap<Server, Map<Socket, Connection>>();
const draining = new WeakSet<Server>();

/** How long a connection accepted just before a drain has to send its first request. */
const FIRST_REQUEST_GRACE_MS = 3_000;
/** The listener closes once no connection has come or been open for this long. */
const QUIET_MS = 300;

/**
 * Stops a server without cutting off a request it accepted. Every answer from
 * now on closes its connection; connections between requests are closed; a
 * connection accepted just before may send its request (up to 3 s).
 * The listener itself closes only once the server has been quiet a moment,
 * since closing it resets connections the kernel accepted that Node has not
 * yet taken; from then on, new connections are refused. After `graceMs`,
 * whatever is left is cut. (Node's own `server.close()` would close a
 * just-accepted connection before its request arrived: to its client, a
 * reset after connecting.)
 */
export async function drainFunctionUrl(server: Server, graceMs: number): Promise<void> {
  if (draining.has(server)) return;
  draining.add(server);
  const connections = connectionsOf.get(server) ?? new Map<Socket, Connection>();
  const started = Date.now();
  let quietSince = started;
  for (;;) {
    const now = Date.now();
    for (const [socket, connection] of connections) {
      const idle =
        !connection.busy && (connection.served > 0 || now - connection.since > FIRST_REQUEST_GRACE_MS);
      if (idle) socket.destroy();
      else quietSince = now;
    }
    const newest = Math.max(0, ...[...connections.values()].map((c) => c.since));
    if (newest > quietSince) quietSince = newest;
    if ((connections.size === 0 && now - quietSince >= QUIET_MS) || now - started > graceMs) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    // Not Node's `server.close()`, which would also close connections that have not sent a request yet.
    net.Server.prototype.close.call(server, () => resolve());
    for (const socket of connections.keys()) socket.destroy();
  });
}

export function serverUrl(server: Server): string {
  const { address, port } = server.address() as AddressInfo;
  return `http://${address}:${port}`;
}

async function respond(
  handler: UrlHandler,
  req: IncomingMessage,
  res: ServerResponse,
  screen?: RequestScreen,
): Promise<void> {
  try {
    const refused = await screen?.({
      method: req.method ?? 'GET',
      path: new URL(req.url ?? '/', 'http://localhost').pathname,
      headers: headersOf(req),
    });
    if (refused) {
      // Answered without reading the body; the connection closes rather than wait for it.
      res.setHeader('connection', 'close');
      return send(res, refused);
    }
    const body = await readBody(req);
    if (body === undefined) {
      return send(res, {
        statusCode: 413,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          error: {
            code: 'PAYLOAD_TOO_LARGE',
            message: `A request body may be at most ${LAMBDA_PAYLOAD_BYTES} bytes (as on a Lambda Function URL).`,
          },
        }),
      });
    }
    const result = await handler(toEvent(req, body), { awsRequestId: randomUUID() });
    send(res, result);
  } catch (error) {
    // A client that hung up is nobody's error.
    if (req.destroyed || res.destroyed) return;
    // The handler turns its own errors into responses; reaching here is a bug in the runtime.
    console.error('local function URL failed', error);
    send(res, {
      statusCode: 502,
      headers: { 'content-type': 'application/json' },
      body: '{"error":{"code":"INTERNAL_ERROR","message":"The function failed."}}',
    });
  }
}

/** The request body, or undefined when it exceeds the payload limit. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > LAMBDA_PAYLOAD_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(body: Buffer): boolean {
  try {
    utf8.decode(body);
    return true;
  } catch {
    return false;
  }
}

function isTextual(contentType: string): boolean {
  const type = contentType.split(';')[0].trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/xml' ||
    type.endsWith('+xml') ||
    type === 'application/x-www-form-urlencoded' ||
    type === 'application/javascript'
  );
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
}

function toEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers = headersOf(req);
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value;
  // A text body that is not valid UTF-8 is passed as bytes: decoding it would replace the bad bytes
  // with U+FFFD and the bus could not tell (and refuse) what was sent.
  const text = isTextual(headers['content-type'] ?? '') && isUtf8(body);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: url.search ? query : undefined,
    body: body.length === 0 ? undefined : text ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !text,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
  };
}

function send(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const body =
    result.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  res.writeHead(result.statusCode ?? 200, {
    ...(result.headers as Record<string, string>),
    'content-length': body.length,
  });
  res.end(body);
}
