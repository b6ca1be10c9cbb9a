import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import { chromium, type Browser, type Page } from 'playwright-core';
import { v7 as uuidv7 } from 'uuid';
import { QUEUES } from '../src/jobs/definitions';
import { buildEvent, recordingJob } from './helpers/factories';
import { interactionsOf, waitForInteractions } from './helpers/db';
import { startStack, type Stack } from './helpers/stack';
import { waitFor } from './helpers/wait';

const ADMIN = { ADMIN_USERNAME: 'ops', ADMIN_PASSWORD: 'dashboard-test-password' };
const artifacts = path.join(__dirname, '..', 'test-artifacts');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// CI installs Chromium and must run this; on a laptop without it, say so instead of failing.
const haveBrowser = existsSync(chromiumPath) || process.env.CI === 'true';
if (!haveBrowser)
  console.warn(`Skipping the dashboard browser test: no Chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM_PATH)`);

/** The dashboard as its users meet it: a real browser, logging in, looking, retrying. */
(haveBrowser ? describe : describe.skip)('the queue dashboard in headless Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    stack = await startStack({ worker: false, env: ADMIN });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await stack.stop();
  });

  test('without credentials the browser is asked to log in, and gets nothing', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // Headless Chromium cannot show the login prompt: it reports the challenge it could not answer.
    await expect(page.goto(`${stack.baseUrl}/admin/queues`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
    const response = await context.request.get(`${stack.baseUrl}/admin/queues`);
    expect(response.status()).toBe(401);
    expect(response.headers()['www-authenticate']).toMatch(/^Basic/);
    expect(await response.text()).not.toMatch(/<html/i);
    await context.close();
  });

  test('an operator logs in, sees the queue and its counts, opens a failed job and retries it', async () => {
    // A job that failed for a passing reason (the database was away), its retries spent.
    const event = await buildEvent(stack.db);
    const userId = `user-${randomUUID()}`;
    const payload = {
      id: uuidv7(),
      userId,
      eventId: event.id,
      action: 'SAVE',
      source: 'api',
      acceptedAt: '2026-11-25T10:00:00.000000Z',
    } as const;
    const recording = recordingJob(stack.producer, payload);
    await stack.producer.queue.add(recording.name, recording.data, {
      jobId: payload.id,
      attempts: 1,
    });
    const outage = new Worker(
      QUEUES.interactions,
      async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:5432 (PostgreSQL away)');
      },
      { connection: { url: stack.config.redisUrl }, prefix: stack.config.queuePrefix },
    );
    await waitFor('the job to fail', async () => (await stack.producer.queue.getJobState(payload.id)) === 'failed');
    await outage.close();
    await stack.startWorker(); // the database is back

    const context = await browser.newContext({ httpCredentials: { username: ADMIN.ADMIN_USERNAME, password: ADMIN.ADMIN_PASSWORD } });
    const page = await context.newPage();
    await page.goto(`${stack.baseUrl}/admin/queues`);
    await page.getByText('interactions', { exact: true }).first().waitFor();
    await page
      .getByText(/^failed$/i)
      .first()
      .waitFor(); // the counts by state have loaded
    await page.screenshot({ path: path.join(artifacts, 'dashboard-overview.png'), fullPage: true });
    expect(await page.locator('body').innerText()).toMatch(/FAILED\s+1/);

    await page.goto(`${stack.baseUrl}/admin/queues/queue/interactions?status=failed`);
    await page.getByText(payload.id).first().waitFor();
    await page
      .getByText(/PostgreSQL away/)
      .first()
      .waitFor(); // the failure reason, shown on the job
    await page.screenshot({ path: path.join(artifacts, 'dashboard-failed-job.png'), fullPage: true });

    // The job's actions are icon buttons named by their tooltips: find the one that says "Retry".
    const actions = page.locator('[data-base-ui-tooltip-trigger] button');
    let retry;
    for (let i = 0; i < (await actions.count()) && !retry; i += 1) {
      await actions.nth(i).hover();
      if (
        await page
          .getByText('Retry', { exact: true })
          .waitFor({ timeout: 1500 })
          .then(
            () => true,
            () => false,
          )
      )
        retry = actions.nth(i);
    }
    expect(retry).toBeDefined();
    await retry!.click();
    await page.screenshot({ path: path.join(artifacts, 'dashboard-retry-confirm.png'), fullPage: true });
    await page.getByText('Are you sure that you want to retry this job?').waitFor();
    await page.getByRole('button', { name: 'Confirm' }).click();

    const [row] = await waitForInteractions(stack.db, userId, 1);
    expect(row).toMatchObject({ id: payload.id, action: 'SAVE' });
    // The row commits before BullMQ moves the job to completed, so wait for the state.
    await waitFor('the retried job to complete', async () => (await stack.producer.queue.getJobState(payload.id)) === 'completed');
    expect(await interactionsOf(stack.db, userId)).toHaveLength(1);
    await context.close();
  }, 60_000);

  test("an operator's Clean and Empty are refused: the accepted interactions stay queued and are all recorded", async () => {
    const own = await startStack({ worker: false, env: ADMIN });
    const context = await browser.newContext({ httpCredentials: { username: ADMIN.ADMIN_USERNAME, password: ADMIN.ADMIN_PASSWORD } });
    try {
      const event = await buildEvent(own.db);
      const userId = `user-${randomUUID()}`;
      const ids: string[] = [];
      for (let i = 0; i < 2; i += 1) {
        const res = await own.request('POST', '/interactions', {
          token: own.token({ sub: userId }),
          body: { eventId: event.id, action: 'VIEW' },
        });
        ids.push(res.body.id);
      }
      const before = await own.producer.queue.getJobCounts();
      expect(before.waiting).toBeGreaterThan(0);

      const page = await context.newPage();
      const refusals: number[] = [];
      page.on('response', (response) => {
        if (response.request().method() !== 'GET' && response.url().includes('/admin/queues/api/')) refusals.push(response.status());
      });
      await page.goto(`${own.baseUrl}/admin/queues/queue/interactions?status=waiting`);
      await page.getByText('interaction.batch').first().waitFor();

      const clean = await actionNamed(page, 'Clean');
      await clean.click();
      await page.getByText('Are you sure that you want to clean this job?').waitFor();
      await page.getByRole('button', { name: 'Confirm' }).click();
      await waitFor('the refusal', async () => refusals.length === 1);

      await page.locator('button[aria-haspopup="menu"]').last().click();
      await page.getByRole('menuitem', { name: 'Empty' }).click();
      await page.getByText('Are you sure that you want to empty the queue?').waitFor();
      await page.getByRole('button', { name: 'Confirm' }).click();
      await waitFor('the refusal', async () => refusals.length === 2);
      await page.screenshot({ path: path.join(artifacts, 'dashboard-empty-refused.png'), fullPage: true });

      expect(refusals).toEqual([403, 403]);
      expect(await own.producer.queue.getJobCounts()).toEqual(before);
      await own.startWorker();
      const rows = await waitForInteractions(own.db, userId, 2);
      expect(rows.map((row) => row.id).sort()).toEqual([...ids].sort());
    } finally {
      await context.close();
      await own.stop();
    }
  }, 60_000);
});

/** A job's action, an icon button, found by the tooltip that names it. */
async function actionNamed(page: Page, name: string) {
  const actions = page.locator('[data-base-ui-tooltip-trigger] button');
  for (let i = 0; i < (await actions.count()); i += 1) {
    await actions.nth(i).hover();
    const shown = await page
      .getByText(name, { exact: true })
      .waitFor({ timeout: 1500 })
      .then(
        () => true,
        () => false,
      );
    if (shown) return actions.nth(i);
  }
  throw new Error(`No job action named ${name}`);
}
