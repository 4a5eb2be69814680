import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { DELIVERY_TEST_ENV, startWebhookReceiver, type WebhookReceiver } from '../support/delivery';
import { call, type RunningBus, startBus, stopBus } from '../support/local-bus';

const { ensureConsoleBuilt } = require('../../console/ensure-built.cjs') as {
  ensureConsoleBuilt: () => boolean;
};

const ROOT = path.resolve(__dirname, '../..');
/** Set (`npm run console:screenshots`) to write the README's pictures of the main views. */
const SCREENSHOTS = process.env.EVENTBUS_CONSOLE_SCREENSHOTS ? path.join(ROOT, 'docs/console') : undefined;

/** Markup that runs script if a view ever renders event data as HTML: each sets `window.__pwned`. */
const HOSTILE = {
  img: '<img src=x onerror="window.__pwned=1">',
  script: '<script>window.__pwned=2</script>',
  svg: '<svg onload="window.__pwned=3"></svg>',
  key: '<img src=x onerror="window.__pwned=4">',
  header: '<svg onload="window.__pwned=5"></svg><script>window.__pwned=6</script>',
  error: '<img src=x onerror="window.__pwned=7">',
};

let bus: RunningBus;
let dataDir: string;
let browser: Browser;
let audit: WebhookReceiver;
let billing: WebhookReceiver;
/** Every browser dialog (alert, confirm) any page opened: the console opens none, and no payload may. */
const dialogs: string[] = [];

async function openConsole(key: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(`${bus.url}/console`);
  await page.fill('input[name="key"]', key);
  await page.getByRole('button', { name: 'Use key' }).click();
  return { context, page };
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function pwned(page: Page): Promise<unknown> {
  return page.evaluate('window.__pwned');
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  if (!ensureConsoleBuilt()) throw new Error('the console could not be built (npm run build:console)');
  if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
  audit = await startWebhookReceiver();
  billing = await startWebhookReceiver();
  // audit's target is down until the redrive test; billing's stays down, so its lag and last error show.
  audit.answer = () => ({ status: 503, body: 'audit is down' });
  billing.answer = () => ({ status: 500, body: `billing is down ${HOSTILE.error}` });
  dataDir = mkdtempSync(path.join(tmpdir(), 'eventbus-console-'));
  bus = await startBus(dataDir, DELIVERY_TEST_ENV);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });

  expect((await call(bus, 'PUT', '/topics/orders', { partitions: 2, retentionHours: 48 })).status).toBe(201);
  expect((await call(bus, 'PUT', '/topics/payroll', { partitions: 1, retentionHours: 24 })).status).toBe(201);
  const published = await call(bus, 'POST', '/topics/orders/events', {
    events: [
      {
        key: HOSTILE.key,
        partition: 0,
        value: { note: HOSTILE.img, script: HOSTILE.script, svg: HOSTILE.svg, total: 42 },
        headers: { source: 'shop', 'x-note': HOSTILE.header },
      },
      { key: 'order-2', partition: 0, value: { total: 7, items: ['book', 'pen'] } },
    ],
  });
  expect(published.status).toBe(200);
  // A binary value (a CloudEvent in binary mode) comes back as base64.
  const binary = await fetch(`${bus.url}/topics/orders/events`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${bus.adminKey}`,
      'content-type': 'application/octet-stream',
      'ce-specversion': '1.0',
      'ce-id': 'bin-1',
      'ce-source': '/scanner',
      'ce-type': 'scan.raw',
      'ce-partitionkey': 'order-2',
    },
    body: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
  });
  expect(binary.status).toBe(200);
  const group = (target: string, maxAttempts: number) => ({
    topic: 'orders',
    target: { type: 'webhook', url: target },
    startFrom: 'earliest',
    maxAttempts,
  });
  expect((await call(bus, 'PUT', '/subscriptions/billing', group(billing.url, 100))).status).toBe(201);
  expect((await call(bus, 'PUT', '/subscriptions/audit', group(audit.url, 1))).status).toBe(201);
  // A routed group (nothing new reaches it) and a topic with a schema, for the views that show them.
  const routed = {
    topic: 'orders',
    target: { type: 'webhook', url: billing.url },
    filter: { value: { total: [{ numeric: ['>', 100] }] } },
    transform: { jsonata: '{"total": value.total}' },
  };
  expect((await call(bus, 'PUT', '/subscriptions/routed', routed)).status).toBe(201);
  expect((await call(bus, 'PUT', '/topics/contracts', { partitions: 1, retentionHours: 24 })).status).toBe(
    201,
  );
  const schema = { schema: { type: 'object', required: ['employee'] }, compatibility: 'FULL' };
  expect((await call(bus, 'PUT', '/topics/contracts/schema', schema)).status).toBe(201);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (bus) await stopBus(bus, 'SIGTERM');
  await audit?.close();
  await billing?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('the web console', () => {
  test('GIVEN no key WHEN /console is loaded THEN the page comes with a strict CSP, nosniff and no inline script', async () => {
    const page = await fetch(`${bus.url}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await page.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc="\/console\/assets\/[^"]+\.js"/);
      expect(body.trim()).toBe('');
    }
    expect(html).not.toMatch(/\sstyle=|\son[a-z]+=/i);

    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1] as string;
    const asset = await fetch(bus.url + script);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(asset.headers.get('content-security-policy')).toBe(csp);
    // Nothing outside the built assets is served, however the path is spelled.
    for (const probe of [
      '/console/assets/..%2F..%2Fpackage.json',
      '/console/assets/nothing.js',
      '/console/x.js',
    ]) {
      expect((await fetch(bus.url + probe)).status).toBe(404);
    }
  });

  test('GIVEN the admin key WHEN it is entered THEN the topics show, and the key is in session storage only', async () => {
    const { context, page } = await openConsole(bus.adminKey);
    const rows = page.locator('table tbody tr');
    await expect(rows.filter({ hasText: 'orders' }).textContent()).resolves.toContain('48 h');
    await expect(rows.filter({ hasText: 'payroll' }).count()).resolves.toBe(1);
    // Each topic's schema version: contracts has one, payroll none.
    await until(
      async () => (await rows.filter({ hasText: 'contracts' }).textContent())?.includes('v1 (FULL)') === true,
      'contracts shows schema v1 (FULL)',
    );
    await until(
      async () => (await rows.filter({ hasText: 'payroll' }).textContent())?.includes('none') === true,
      'payroll shows no schema',
    );
    expect(page.url()).not.toContain(bus.adminKey);
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(await page.evaluate("sessionStorage.getItem('eventbus.key')")).toBe(bus.adminKey);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    await screenshot(page, 'topics');
    await context.close();
  });

  test('GIVEN events whose values, keys and headers carry markup WHEN a partition is read THEN they show as text and no script runs', async () => {
    const { context, page } = await openConsole(bus.adminKey);
    await page.getByRole('link', { name: 'orders' }).click();
    await page.getByRole('button', { name: 'Read' }).click();
    const events = page.locator('.events .event');
    await events.first().waitFor();
    const first = events.first();
    await expect(first.locator('.event-key').textContent()).resolves.toBe(HOSTILE.key);
    await expect(first.locator('.headers').textContent()).resolves.toContain(HOSTILE.header);
    const value = (await first.locator('pre').textContent()) as string;
    expect(JSON.parse(value)).toEqual({
      note: HOSTILE.img,
      script: HOSTILE.script,
      svg: HOSTILE.svg,
      total: 42,
    });
    expect(await page.locator('.events img, .events svg, .events script').count()).toBe(0);
    expect(await pwned(page)).toBeUndefined();
    expect(dialogs).toEqual([]);
    await screenshot(page, 'events');

    // The binary event landed where its key sends it; read that partition from its start.
    const binaryPartition = (await call(bus, 'GET', '/topics/orders/partitions/1/events?offset=0')).body
      .events.length
      ? 1
      : 0;
    await page.selectOption('select[name="partition"]', String(binaryPartition));
    await page.getByRole('button', { name: 'Read' }).click();
    const base64 = page.locator('.event', { hasText: '3q2+7w==' });
    await expect(base64.locator('.label').last().textContent()).resolves.toBe('base64');
    await context.close();
  });

  test('GIVEN a live tail WHEN an event is published THEN it appears', async () => {
    const { context, page } = await openConsole(bus.adminKey);
    await page.goto(`${bus.url}/console#/topics/orders`);
    await page.getByRole('button', { name: 'Live tail' }).click();
    await page.getByText('Live tail of partition 0').waitFor();
    // Published after the tail read the partition's end, so only the tail can show it.
    await page.waitForTimeout(1500);
    const sent = await call(bus, 'POST', '/topics/orders/events', {
      events: [{ partition: 0, value: { tailed: 'yes' } }],
    });
    expect(sent.status).toBe(200);
    await page.locator('.tail .event', { hasText: '"tailed": "yes"' }).waitFor();
    await context.close();
  });

  test('GIVEN a group whose target fails WHEN it is opened THEN its lag and last error show, as text', async () => {
    await until(async () => {
      const group = (await call(bus, 'GET', '/subscriptions/billing')).body;
      return group.partitions.some((p: { lastError: string | null }) => p.lastError);
    }, 'billing has a last error');
    const { context, page } = await openConsole(bus.adminKey);
    await page.getByRole('link', { name: 'Consumer groups' }).click();
    await page.getByRole('link', { name: 'billing' }).click();
    const row = page.locator('table.lag tbody tr').first();
    await row.waitFor();
    expect(Number(await row.locator('.lag-value').textContent())).toBeGreaterThan(0);
    await expect(row.locator('.last-error').textContent()).resolves.toContain(HOSTILE.error);
    // A few samples for the chart.
    await until(async () => (await page.locator('.chart circle').count()) >= 3, 'three lag samples');
    expect(await page.locator('table.lag img').count()).toBe(0);
    expect(await pwned(page)).toBeUndefined();
    await screenshot(page, 'group');

    // Skipping everything, after the confirmation, leaves no lag.
    await page.selectOption('select[name="reset-to"]', 'latest');
    await page.getByRole('button', { name: 'Reset offsets' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText(/^Reset: /).waitFor();
    await until(async () => (await row.locator('.lag-value').textContent()) === '0', 'lag 0 after the reset');
    await context.close();
  });

  test('GIVEN a routed group WHEN it is opened THEN its filter and transform show', async () => {
    const { context, page } = await openConsole(bus.adminKey);
    await page.getByRole('link', { name: 'Consumer groups' }).click();
    await page.getByRole('link', { name: 'routed' }).click();
    await page.locator('pre.filter').waitFor();
    expect(JSON.parse((await page.locator('pre.filter').textContent()) ?? '')).toEqual({
      value: { total: [{ numeric: ['>', 100] }] },
    });
    await expect(page.locator('pre.transform').textContent()).resolves.toBe('{"total": value.total}');
    await context.close();
  });

  test('GIVEN dead letters WHEN they are redriven after the confirmation THEN the target gets them', async () => {
    await until(async () => {
      const answer = await call(bus, 'GET', '/topics/audit.dlq/partitions/0/events?offset=0');
      return answer.status === 200 && answer.body.events.length >= 3;
    }, 'three dead letters in audit.dlq');
    const { context, page } = await openConsole(bus.adminKey);
    await page.goto(`${bus.url}/console#/groups/audit`);
    const letter = page.locator('.dlq .event').first();
    await letter.waitFor();
    await expect(letter.locator('.headers').textContent()).resolves.toContain('eventbus-dlq-error');
    await screenshot(page, 'dead-letters');

    audit.answer = () => ({ status: 200 });
    await page.getByRole('button', { name: 'Redrive' }).click();
    await page.getByText('Deliver every dead letter of audit').waitFor();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText(/^Redriven: \d+ dead letters/).waitFor();
    await audit.until((r) => r.batches.flatMap((b) => b.batch.events).length >= 3);
    const delivered = audit.batches.flatMap((b) => b.batch.events.map((e) => JSON.stringify(e.value)));
    expect(delivered.some((value) => value.includes('window.__pwned=1'))).toBe(true);
    expect(dialogs).toEqual([]);
    await context.close();
  });

  test('GIVEN the publish form WHEN the value is not JSON THEN it is not sent; WHEN it is THEN the event lands', async () => {
    const { context, page } = await openConsole(bus.adminKey);
    await page.getByRole('link', { name: 'Publish' }).click();
    await page.selectOption('select[name="topic"]', 'payroll');
    await page.fill('input[name="event-key"]', 'run-2026-12');
    await page.fill('textarea[name="headers"]', '{"source": "console"}');
    await page.fill('textarea[name="value"]', '{"amount": 12,}');
    await page.getByText('Not valid JSON').waitFor();
    expect(await page.getByRole('button', { name: 'Publish' }).isDisabled()).toBe(true);
    await page.fill('textarea[name="value"]', '{"amount": 1200.50, "currency": "EUR"}');
    await page.getByText('Valid JSON.').waitFor();
    await screenshot(page, 'publish');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published to payroll, partition 0 at offset 0.').waitFor();
    const read = await call(bus, 'GET', '/topics/payroll/partitions/0/events?offset=0');
    expect(read.body.events).toEqual([
      expect.objectContaining({
        key: 'run-2026-12',
        value: { amount: 1200.5, currency: 'EUR' },
        headers: { source: 'console' },
      }),
    ]);
    await context.close();
  });

  test('GIVEN a topic with a schema WHEN the value breaks it THEN the form names the JSON Pointer and the rule and sends nothing; WHEN it conforms THEN the event lands', async () => {
    const schema = {
      type: 'object',
      required: ['invoiceId', 'customer'],
      properties: {
        invoiceId: { type: 'string' },
        customer: {
          type: 'object',
          properties: { email: { type: 'string', format: 'email' } },
        },
        status: { enum: ['draft', 'sent'] },
      },
    };
    expect((await call(bus, 'PUT', '/topics/invoices', { partitions: 1, retentionHours: 24 })).status).toBe(
      201,
    );
    expect((await call(bus, 'PUT', '/topics/invoices/schema', { schema })).status).toBe(201);
    const { context, page } = await openConsole(bus.adminKey);
    await page.getByRole('link', { name: 'Publish' }).click();
    await page.selectOption('select[name="topic"]', 'invoices');
    const publish = page.getByRole('button', { name: 'Publish' });

    await page.fill(
      'textarea[name="value"]',
      '{"invoiceId": "inv-1", "customer": {"email": "not an address"}}',
    );
    await page
      .getByText('Does not match schema v1 at /customer/email: String does not match format "email".')
      .waitFor();
    expect(await publish.isDisabled()).toBe(true);
    await screenshot(page, 'publish-schema');
    await page.fill('textarea[name="value"]', '{"invoiceId": "inv-1", "customer": {}, "status": "paid"}');
    await page.getByText('Does not match schema v1 at /status:').waitFor();
    await page.fill('textarea[name="value"]', '{"customer": {}}');
    await page
      .getByText(
        'Does not match schema v1 at the top level: Instance does not have required property "invoiceId".',
      )
      .waitFor();
    expect(await publish.isDisabled()).toBe(true);
    // Enter in a field submits the form: a violation still sends nothing.
    await page.press('input[name="event-key"]', 'Enter');

    await page.fill(
      'textarea[name="value"]',
      '{"invoiceId": "inv-1", "customer": {"email": "ap@example.com"}, "status": "sent"}',
    );
    await page.getByText('Valid JSON, matches schema v1.').waitFor();
    await publish.click();
    await page.getByText('Published to invoices, partition 0 at offset 0.').waitFor();
    // Only the conforming event was sent.
    const read = await call(bus, 'GET', '/topics/invoices/partitions/0/events?offset=0');
    expect(read.body.events.map((e: { value: unknown }) => e.value)).toEqual([
      { invoiceId: 'inv-1', customer: { email: 'ap@example.com' }, status: 'sent' },
    ]);
    expect(dialogs).toEqual([]);
    await context.close();
  });

  test('GIVEN a key that may only read orders WHEN it is used THEN it sees orders alone and a 403 is explained', async () => {
    const created = await call(bus, 'POST', '/keys', {
      acl: [{ topics: 'orders', permissions: ['read'] }],
      description: 'console test: read orders',
    });
    expect(created.status).toBe(201);
    const { context, page } = await openConsole(created.body.key);
    await page.getByRole('link', { name: 'orders' }).waitFor();
    expect(await page.getByRole('link', { name: 'payroll' }).count()).toBe(0);

    await page.goto(`${bus.url}/console#/topics/payroll`);
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/may not do that \(403 FORBIDDEN\)/);

    await page.goto(`${bus.url}/console#/publish/orders`);
    await page.getByText('Valid JSON.').waitFor();
    await page.getByRole('button', { name: 'Publish' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/403 FORBIDDEN.*ACL/);
    await screenshot(page, 'forbidden');
    // Nothing was published.
    const ends = (await call(bus, 'GET', '/topics/orders')).body.partitions.map(
      (p: { endOffset: number }) => p.endOffset,
    );
    expect(ends.reduce((a: number, b: number) => a + b, 0)).toBe(4);
    await context.close();
  });
});
