import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser } from 'playwright-core';
import ts from 'typescript';
import { buildEvent } from '../../../test/helpers/factories';
import { sparePort } from '../../../test/helpers/redis-server';
import { startStack, type Stack } from '../../../test/helpers/stack';
import { sleep, waitFor } from '../../../test/helpers/wait';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveBrowser = existsSync(chromiumPath) || process.env.CI === 'true';
if (!haveBrowser) console.warn(`Skipping the client's browser test: no Chromium at ${chromiumPath}`);

/** The client as an ES module, the way a web app's bundler would hand it to the browser. */
const clientModule = ts.transpileModule(readFileSync(path.join(__dirname, '..', 'src', 'index.ts'), 'utf8'), {
  compilerOptions: { module: ts.ModuleKind.ES2020, target: ts.ScriptTarget.ES2020 },
}).outputText;

/** A web app on an origin of its own: a page that loads the client. */
function serveApp(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      if (req.url === '/client.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(clientModule);
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(`<!doctype html><script type="module">import * as tracking from '/client.js'; globalThis.tracking = tracking;</script>`);
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

(haveBrowser ? describe : describe.skip)('the TypeScript client in headless Chromium', () => {
  /** Every row of the user: how many, and how many distinct interactions (a doubled one shows as fewer). */
  const landedRows = async (userId: string) =>
    (
      await stack
        .db('interactions')
        .where({ user_id: userId })
        .select(stack.db.raw('count(*)::int as n, count(distinct id)::int as distinct'))
    )[0];
  const waitForRows = (userId: string, n: number) =>
    waitFor(`${n} rows of ${userId}`, async () => ((await landedRows(userId)).n >= n ? landedRows(userId) : undefined), 30_000);

  let stack: Stack;
  let app: Server;
  let browser: Browser;
  beforeAll(async () => {
    app = await serveApp();
    const appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    stack = await startStack({ env: { CORS_ORIGINS: appOrigin, RATE_LIMIT_WRITES_PER_MINUTE: '0' } });
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    app?.close();
    await stack?.stop();
  });

  test('from another origin: what is tracked offline survives a reload in localStorage and lands once when the API is reachable', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const token = stack.token({ sub: userId });
    const page = await browser.newPage();
    const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/`;
    await page.goto(appUrl);
    await page.waitForFunction(() => 'tracking' in globalThis);

    // Offline: the API is out of reach, the tracked interactions wait in localStorage.
    const unreachable = `http://127.0.0.1:${await sparePort()}`;
    await page.evaluate(
      ({ baseUrl, token, eventId }) => {
        const { createClient, localStorageBuffer } = (globalThis as unknown as { tracking: typeof import('../src') }).tracking;
        const client = createClient({ baseUrl, getToken: () => token, storage: localStorageBuffer(), flushIntervalMs: 10 });
        for (let i = 0; i < 12; i += 1) client.track(eventId, i === 0 ? 'SAVE' : 'VIEW');
      },
      { baseUrl: unreachable, token, eventId: event.id },
    );
    await sleep(300);
    await page.reload();
    await page.waitForFunction(() => 'tracking' in globalThis);

    const left = await page.evaluate(
      async ({ baseUrl, token }) => {
        const { createClient, localStorageBuffer } = (globalThis as unknown as { tracking: typeof import('../src') }).tracking;
        const client = createClient({ baseUrl, getToken: () => token, storage: localStorageBuffer() });
        const before = client.pending;
        await client.flush();
        return { before, after: client.pending };
      },
      { baseUrl: stack.baseUrl, token },
    );
    expect(left).toEqual({ before: 12, after: 0 });
    const rows = await waitFor('the rows', async () => {
      const found = await stack.db('interactions').where({ user_id: userId });
      return found.length >= 12 ? found : undefined;
    });
    await sleep(500);
    expect(new Set(rows.map((r: { id: string }) => r.id)).size).toBe(12);
    expect(await stack.db('interactions').where({ user_id: userId })).toHaveLength(12);
    await page.close();
  });

  test('three tabs of one origin share the localStorage buffer: two offline tabs track, a third sends; nothing is lost or doubled', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const token = stack.token({ sub: userId });
    const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/`;
    const context = await browser.newContext(); // one origin's storage, shared by its tabs
    const open = async () => {
      const page = await context.newPage();
      await page.goto(appUrl);
      await page.waitForFunction(() => 'tracking' in globalThis);
      await page.evaluate(
        ({ baseUrl, token }) => {
          const { createClient, localStorageBuffer } = (globalThis as unknown as { tracking: typeof import('../src') }).tracking;
          (globalThis as Record<string, unknown>).client = createClient({
            baseUrl,
            getToken: () => token,
            storage: localStorageBuffer(),
            flushIntervalMs: 10,
            retryDelayMs: 50,
            maxRetryDelayMs: 200,
          });
        },
        { baseUrl: stack.baseUrl, token },
      );
      return page;
    };
    type Tab = Awaited<ReturnType<typeof open>>;
    const track = (tab: Tab, action: string) =>
      tab.evaluate(({ eventId, action }) => (globalThis as any).client.track(eventId, action), { eventId: event.id, action });
    const flush = (tab: Tab) => tab.evaluate(() => (globalThis as any).client.flush());

    const offline = (tab: Tab) => tab.route(`${stack.baseUrl}/**`, (route) => route.abort('internetdisconnected'));
    const [first, second] = [await open(), await open()];
    await offline(first);
    await offline(second);
    await track(first, 'SAVE');
    await track(second, 'VIEW');
    await track(first, 'CLICK');
    await track(second, 'VIEW');
    await sleep(300); // both tabs have tried, and failed, to send

    const third = await open();
    expect(await third.evaluate(() => (globalThis as any).client.pending)).toBe(4);
    await flush(third);
    expect(await waitForRows(userId, 4)).toEqual({ n: 4, distinct: 4 });

    // Back online, the first two send what they hold themselves: recorded once all the same.
    await first.unrouteAll();
    await second.unrouteAll();
    await flush(first);
    await flush(second);
    await sleep(500);
    expect(await landedRows(userId)).toEqual({ n: 4, distinct: 4 });
    expect(await third.evaluate(() => (globalThis as any).localStorage.length)).toBe(0);
    await context.close();
  });

  test('what a page holds is sent as it goes away (a keepalive request), without waiting for its batch', async () => {
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(app.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => 'tracking' in globalThis);
    await page.evaluate(
      ({ baseUrl, token, eventId }) => {
        const { createClient, localStorageBuffer } = (globalThis as unknown as { tracking: typeof import('../src') }).tracking;
        const client = createClient({ baseUrl, getToken: () => token, storage: localStorageBuffer('leaving'), flushIntervalMs: 600_000 });
        for (let i = 0; i < 3; i += 1) client.track(eventId, 'CLICK');
      },
      { baseUrl: stack.baseUrl, token: stack.token({ sub: userId }), eventId: event.id },
    );
    await page.goto('about:blank');
    expect(await waitForRows(userId, 3)).toEqual({ n: 3, distinct: 3 });
    await page.close();
  });

  test('an origin not in CORS_ORIGINS gets no CORS headers; the operations surface never does', async () => {
    const appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const preflight = (origin: string, path: string) =>
      fetch(`${stack.baseUrl}${path}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
    const allowed = await preflight(appOrigin, '/interactions/batch');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(appOrigin);
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect((await preflight('https://evil.example', '/interactions/batch')).headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight(appOrigin, '/admin/queues')).headers.get('access-control-allow-origin')).toBeNull();
  });
});
