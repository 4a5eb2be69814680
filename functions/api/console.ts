import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type middy from '@middy/core';
import { type HttpEvent, type HttpResult, json } from './http';

/**
 * The headers of every console answer: no inline script or style, no framing, no sniffing
 * (API.md, "Web console"). The page reaches nothing but this origin.
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** An asset's name as Vite writes it: no folder, no `..`, a known extension. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*\.(js|css|svg)$/;

/** Whether a path is the console's: `/console`, `/console/` and what lies under it. */
export function isConsolePath(urlPath: string): boolean {
  return urlPath === '/console' || urlPath.startsWith('/console/');
}

/**
 * Where the built console is: next to the Lambda bundle (`console-assets/`, copied there by the
 * construct's bundling), or `console/dist/` of this repository (local mode and tests).
 */
function consoleDirectory(): string {
  const bundled = path.join(__dirname, 'console-assets');
  return existsSync(bundled) ? bundled : path.resolve(__dirname, '../../console/dist');
}

const files = new Map<string, Buffer>();

/** Reads a built file once per process; the publish path never gets here. */
async function consoleFile(name: string): Promise<Buffer | undefined> {
  const cached = files.get(name);
  if (cached) return cached;
  try {
    const content = await readFile(path.join(consoleDirectory(), name));
    files.set(name, content);
    return content;
  } catch {
    return undefined;
  }
}

/**
 * `GET /console` and `GET /console/assets/{file}`: the web console's page and its hashed assets,
 * read from disk on the first request for each. The page needs no key; every call it makes does.
 */
export async function serveConsole(urlPath: string): Promise<HttpResult> {
  const page = urlPath === '/console' || urlPath === '/console/';
  const assetName = urlPath.startsWith('/console/assets/') ? urlPath.slice('/console/assets/'.length) : '';
  if (!page && !ASSET_NAME.test(assetName)) {
    return json(404, { error: { code: 'NOT_FOUND', message: `No console file at ${urlPath}.` } });
  }
  const name = page ? 'index.html' : path.join('assets', assetName);
  const content = await consoleFile(name);
  if (!content) {
    const message = page
      ? 'The console is not built: run npm run build:console.'
      : `No console file at ${urlPath}.`;
    return json(404, { error: { code: 'NOT_FOUND', message } }, CONSOLE_HEADERS);
  }
  return {
    statusCode: 200,
    headers: {
      ...CONSOLE_HEADERS,
      'content-type': CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream',
      // Asset names carry a hash of their content; the page itself must be fetched again to see new ones.
      'cache-control': page ? 'no-cache' : 'public, max-age=31536000, immutable',
    },
    body: content.toString('utf8'),
  };
}

/**
 * Answers `GET`/`HEAD` of the console's paths before the router, which serves only the JSON API
 * (the console is not part of the OpenAPI document: it answers HTML, JavaScript and CSS).
 */
export function consoleMiddleware(): middy.MiddlewareObj<HttpEvent, HttpResult> {
  return {
    before: async (request) => {
      const method = request.event.requestContext?.http?.method;
      if ((method !== 'GET' && method !== 'HEAD') || !isConsolePath(request.event.rawPath)) return undefined;
      return serveConsole(request.event.rawPath);
    },
  };
}
