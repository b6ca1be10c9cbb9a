import { v7 as uuidv7 } from 'uuid';
import { ZodError } from 'zod';
import { JOBS, MAX_IMPRESSIONS_PER_JOB, type ImpressionPayload } from '../jobs/definitions';
import type { Producer } from '../jobs/producer';
import type { Metrics } from '../ops/metrics';

/** Impressions one process holds while Redis is away; past it the oldest are dropped. */
const MAX_PENDING = 20_000;

export type Impression = Omit<ImpressionPayload, 'id' | 'servedAt'>;

/**
 * Records the feed pages served, off the request path: the pages of a second are queued together
 * in one job (as interactions are), and the worker stores them in feed_impressions. While Redis is
 * away they wait here, up to MAX_PENDING; past that the oldest are dropped and counted
 * (feed_impressions_dropped_total): the pages were served, and no client waits on their record.
 */
export class ImpressionRecorder {
  private pending: ImpressionPayload[] = [];
  /**
   * A batch whose enqueue failed, to be sent again as it was: it may have landed under its job id,
   * and a batch with newer pages added under the same id would be taken for it and dropped.
   */
  private unsent: ImpressionPayload[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly producer: Pick<Producer, 'enqueue'>,
    private readonly metrics: Pick<Metrics, 'feedImpressions' | 'feedImpressionsDropped'>,
    private readonly intervalMs = 1000,
  ) {}

  record(page: Impression, servedAt = new Date()): void {
    this.pending.push({ id: uuidv7(), servedAt: servedAt.toISOString(), ...page });
    this.metrics.feedImpressions.inc({ variant: page.variant });
    if (this.pending.length > MAX_PENDING)
      this.metrics.feedImpressionsDropped.inc(this.pending.splice(0, this.pending.length - MAX_PENDING).length);
    this.schedule();
  }

  /** Queues everything recorded so far; what Redis does not take is kept for the next try. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    // One at a time: two flushes would share `unsent`, and one's success could clear a batch the
    // other then failed to send (an enqueue can outlast the interval: ENQUEUE_TIMEOUT_MS).
    return (this.flushing ??= this.send().finally(() => (this.flushing = undefined)));
  }

  private async send(): Promise<void> {
    while (this.unsent || this.pending.length > 0) {
      const batch = (this.unsent ??= this.pending.splice(0, MAX_IMPRESSIONS_PER_JOB));
      try {
        // The first page's id names the job: a retry of an enqueue that did land adds nothing.
        await this.producer.enqueue(JOBS.recordImpressions, { impressions: batch }, { jobId: `impressions-${batch[0]!.id}` });
        this.unsent = undefined;
      } catch (error) {
        if (error instanceof ZodError) {
          // Refused by the job's schema: it would be refused on every try, and hold back every later page.
          this.metrics.feedImpressionsDropped.inc(batch.length);
          this.unsent = undefined;
          continue;
        }
        // Redis away (the producer's outage log says so), or anything else: the pages wait for the next try.
        this.schedule();
        return;
      }
    }
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => void this.flush(), this.intervalMs).unref();
  }
}
