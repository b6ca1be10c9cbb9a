import { z } from 'zod';
import { ServiceUnavailableError } from '../../src/errors';
import { ImpressionRecorder, type Impression } from '../../src/feed/impressions';

const page = (n: number): Impression => ({
  userId: `user-${n}`,
  rankingId: `ranking-${n}`,
  variant: 'control',
  settingsVersion: 1,
  eventIds: [`event-${n}`],
  positions: [1],
});

const counter = { inc: () => undefined };

describe('ImpressionRecorder', () => {
  test('a batch whose enqueue failed after it landed is sent again alone, so pages recorded since are not lost with it', async () => {
    // As BullMQ does: a job id it holds already adds nothing.
    const jobs = new Map<string, string[]>();
    let failNext = true;
    const producer = {
      enqueue: async (_job: unknown, data: unknown, options?: { jobId?: string }) => {
        const { impressions } = data as { impressions: { rankingId: string }[] };
        if (!jobs.has(options!.jobId!))
          jobs.set(
            options!.jobId!,
            impressions.map((i) => i.rankingId),
          );
        if (failNext) {
          failNext = false;
          throw new ServiceUnavailableError('unavailable'); // landed, but not confirmed
        }
      },
    };
    const recorder = new ImpressionRecorder(producer, { feedImpressions: counter, feedImpressionsDropped: counter } as never, 60_000);

    for (const n of [1, 2, 3]) recorder.record(page(n));
    await recorder.flush();
    for (const n of [4, 5]) recorder.record(page(n));
    await recorder.flush();

    expect([...jobs.values()].flat().sort()).toEqual(['ranking-1', 'ranking-2', 'ranking-3', 'ranking-4', 'ranking-5']);
  });

  test('a flush asked for while one is sending waits for it: a batch that then fails is kept, not lost', async () => {
    const sent: string[][] = [];
    // Enqueues wait until released, as over a slow Redis; the first one carrying page 2 fails.
    let waiting: (() => void)[] = [];
    let failPage2 = true;
    const producer = {
      enqueue: (_job: unknown, data: unknown) => {
        const ids = (data as { impressions: { rankingId: string }[] }).impressions.map((i) => i.rankingId);
        sent.push(ids);
        const fails = failPage2 && ids.includes('ranking-2');
        if (fails) failPage2 = false;
        return new Promise<void>((resolve, reject) =>
          waiting.push(() => (fails ? reject(new ServiceUnavailableError('unavailable')) : resolve())),
        );
      },
    };
    const release = async () => {
      for (let i = 0; i < 5; i += 1) {
        const now = waiting;
        waiting = [];
        now.forEach((settle) => settle());
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const recorder = new ImpressionRecorder(producer, { feedImpressions: counter, feedImpressionsDropped: counter } as never, 60_000);

    recorder.record(page(1));
    const first = recorder.flush(); // sending page 1, slower than the interval
    recorder.record(page(2));
    const second = recorder.flush(); // the timer's flush, or a shutdown's
    await release();
    await Promise.all([first, second]);
    const retry = recorder.flush();
    await release();
    await retry;

    expect(sent.filter((ids) => ids.includes('ranking-2')).length).toBe(2); // failed once, then sent again
  });

  test('a batch the job schema refuses is dropped and counted, not retried ahead of later pages for ever', async () => {
    const sent: string[][] = [];
    const producer = {
      enqueue: async (_job: unknown, data: unknown) => {
        const ids = (data as { impressions: { rankingId: string }[] }).impressions.map((i) => i.rankingId);
        if (ids.includes('ranking-1')) z.uuid().parse('not a uuid'); // as the job schema's parse throws
        sent.push(ids);
      },
    };
    let dropped = 0;
    const metrics = { feedImpressions: counter, feedImpressionsDropped: { inc: (n = 1) => (dropped += n) } };
    const recorder = new ImpressionRecorder(producer, metrics as never, 60_000);

    recorder.record(page(1));
    await recorder.flush();
    recorder.record(page(2));
    await recorder.flush();

    expect(sent).toEqual([['ranking-2']]);
    expect(dropped).toBe(1);
  });

  test('a batch that failed otherwise (not refused by the schema) is kept and sent again', async () => {
    const sent: string[][] = [];
    let failNext = true;
    const producer = {
      enqueue: async (_job: unknown, data: unknown) => {
        if (failNext) {
          failNext = false;
          throw new Error('READONLY You cannot write against a read only replica.'); // a failover's first seconds
        }
        sent.push((data as { impressions: { rankingId: string }[] }).impressions.map((i) => i.rankingId));
      },
    };
    let dropped = 0;
    const metrics = { feedImpressions: counter, feedImpressionsDropped: { inc: (n = 1) => (dropped += n) } };
    const recorder = new ImpressionRecorder(producer, metrics as never, 60_000);

    recorder.record(page(1));
    await recorder.flush();
    await recorder.flush();

    expect(sent).toEqual([['ranking-1']]);
    expect(dropped).toBe(0);
  });
});
