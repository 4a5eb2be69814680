import type { Server } from 'node:http';
import { Logger } from '@aws-lambda-powertools/logger';
import { createApiHandler, screenRequest } from '../../functions/api/handler';
import { serveFunctionUrl, serverUrl } from '../../local/function-url';
import { type Bus, type BusOptions, createBus } from '../../shared/bus';
import { DEFAULT_LIMITS, type PublishLimits } from '../../shared/publish/limits';

export const ADMIN_KEY = 'test-admin-key-0123456789';

export interface TestApi {
  readonly url: string;
  readonly bus: Bus;
  request(
    method: string,
    path: string,
    options?: { body?: unknown; headers?: Record<string, string>; key?: string | null },
  ): Promise<{ status: number; headers: Headers; body: any }>;
  close(): Promise<void>;
}

/** The API handler behind the local Function URL server, on a free port, against the test emulators. */
export async function startTestApi(
  limits: PublishLimits = DEFAULT_LIMITS,
  options: Omit<BusOptions, 'adminKey'> = {},
): Promise<TestApi> {
  const bus = createBus({ adminKey: ADMIN_KEY, ...options });
  const handler = createApiHandler(
    bus,
    limits,
    new Logger({ serviceName: 'eventbus-test', logLevel: 'SILENT' }),
  );
  const server: Server = await serveFunctionUrl(handler as never, 0, '127.0.0.1', {
    screen: screenRequest(bus),
  });
  const url = serverUrl(server);
  return {
    url,
    bus,
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      const key = options.key === undefined ? ADMIN_KEY : options.key;
      if (key !== null) headers.authorization ??= `Bearer ${key}`;
      let body: string | Buffer | undefined;
      if (options.body !== undefined) {
        body =
          typeof options.body === 'string' || Buffer.isBuffer(options.body)
            ? options.body
            : JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(url + path, { method, headers, body });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, headers: response.headers, body: parsed as any };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
