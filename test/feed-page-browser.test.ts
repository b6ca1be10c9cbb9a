import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser } from 'playwright-core';
import { waitForInteractions } from './helpers/db';
import { buildEvent } from './helpers/factories';
import { startStack, type Stack } from './helpers/stack';
import { waitFor } from './helpers/wait';

const ADMIN = { ADMIN_USERNAME: 'ops', ADMIN_PASSWORD: 'feed-page-test-password' };
const artifacts = path.join(__dirname, '..', 'test-artifacts');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveBrowser = existsSync(chromiumPath) || process.env.CI === 'true';
if (!haveBrowser) console.warn(`Skipping the feed page browser test: no Chromium at ${chromiumPath}`);

(haveBrowser ? describe : describe.skip)('the feed statistics page in headless Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    stack = await startStack({
      ownDatabase: true,
      env: {
        ...ADMIN,
        FEED_EXPERIMENT: JSON.stringify([
          { name: 'control', share: 0.5 },
          { name: 'b', share: 0.5 },
        ]),
      },
    });
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await stack.stop();
  });

  test('an operator opens it from the queue dashboard and sees every chart drawn from the day’s pages and interactions', async () => {
    for (let i = 0; i < 5; i += 1) await buildEvent(stack.db);
    const users = Array.from({ length: 8 }, () => `user-${randomUUID()}`);
    for (const userId of users) {
      const token = stack.token({ sub: userId });
      const { body } = await stack.request('GET', '/recommendations?limit=3', { token });
      await stack.request('POST', '/interactions', {
        token,
        body: { eventId: body.items[0].eventId, action: 'CLICK', recommendationId: body.recommendationId },
      });
      await waitForInteractions(stack.db, userId, 1);
    }
    await waitFor('the pages stored', async () => Number((await stack.db('feed_impressions').count({ n: '*' }))[0]!.n) >= users.length);

    const context = await browser.newContext({ httpCredentials: { username: ADMIN.ADMIN_USERNAME, password: ADMIN.ADMIN_PASSWORD } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));

    await page.goto(`${stack.baseUrl}/admin/queues`);
    // Bull Board lists its links in the menu at the end of its header.
    await page.locator('ul[class*="actions"] > li').last().locator('button').click();
    errors.length = 0; // the dashboard's own (its web fonts are out of reach here); the feed page's from now on
    await page.getByText('Feed statistics').first().click();
    await page.waitForURL(/\/admin\/feed/);
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 15_000 });

    const charts = await page.evaluate(() => {
      const drawn = (globalThis as unknown as { feedCharts: Record<string, { data: { datasets: { data: (number | null)[] }[] } }> })
        .feedCharts;
      return Object.fromEntries(
        Object.entries(drawn).map(([id, chart]) => [
          id,
          chart.data.datasets.reduce((sum, set) => sum + set.data.filter((v) => (v ?? 0) > 0).length, 0),
        ]),
      );
    });
    // Each of the four charts has something above zero to show.
    expect(Object.keys(charts).sort()).toEqual(['coverage', 'engagement', 'impressions', 'positions']);
    for (const points of Object.values(charts)) expect(points).toBeGreaterThan(0);
    const canvasesPainted = await page.evaluate(() =>
      // Run in the page: the DOM's types are not the test's.
      [...(globalThis as any).document.querySelectorAll('canvas')].every((canvas: any) => {
        const pixels: Uint8ClampedArray = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        return pixels.some((value, i) => i % 4 === 3 && value > 0);
      }),
    );
    expect(canvasesPainted).toBe(true);
    expect(await page.locator('#variants tbody td:first-child').allTextContents()).toEqual(['control', 'b']);
    expect(await page.locator('#variants tbody tr:last-child td:last-child').textContent()).toMatch(/ %\)$/); // its interval
    expect(errors).toEqual([]);
    await page.screenshot({ path: path.join(artifacts, 'feed-page.png'), fullPage: true });
    await context.close();
  });
});
