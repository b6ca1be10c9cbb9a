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
          throw new Error('WAIT timed out'); // landed, but not confirmed
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
});
