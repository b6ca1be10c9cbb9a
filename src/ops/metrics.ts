import type { Queue } from 'bullmq';
import type { RequestHandler } from 'express';
import type { Knex } from 'knex';
import client from 'prom-client';

/** The Prometheus metrics of one process (`web` or `worker`). */
export class Metrics {
  readonly registry = new client.Registry();

  readonly httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly jobDuration = new client.Histogram({
    name: 'job_duration_seconds',
    help: 'Time to process a job, by job name and outcome',
    labelNames: ['job_name', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [this.registry],
  });

  readonly jobFailures = new client.Counter({
    name: 'job_failures_total',
    help: 'Failed job attempts, by job name; final="true" when no retry is left',
    labelNames: ['job_name', 'final'] as const,
    registers: [this.registry],
  });

  readonly outboxRelayFailures = new client.Counter({
    name: 'outbox_relay_failures_total',
    help: 'Outbox relay attempts that failed (their rows stay in the outbox and are retried)',
    registers: [this.registry],
  });

  readonly feedFirstPages = new client.Counter({
    name: 'feed_first_pages_total',
    help: 'First pages of a feed, by whether their ranking was made ahead or afresh for the request',
    labelNames: ['ranking'] as const,
    registers: [this.registry],
  });

  readonly feedRankings = new client.Counter({
    name: 'feed_rankings_total',
    help: 'First pages that needed a ranking made for them, by outcome: ranked, shared with one in progress, or refused (503, the process busy)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly feedImpressions = new client.Counter({
    name: 'feed_impressions_total',
    help: 'Feed pages served, by experiment variant',
    labelNames: ['variant'] as const,
    registers: [this.registry],
  });

  readonly feedEngagements = new client.Counter({
    name: 'feed_engagements_total',
    help: "Interactions accepted with the recommendationId of a feed page, by the user's variant and the action",
    labelNames: ['variant', 'action'] as const,
    registers: [this.registry],
  });

  readonly feedImpressionsDropped = new client.Counter({
    name: 'feed_impressions_dropped_total',
    help: 'Feed pages whose impression could not be queued (Redis away for long, or refused by the job schema) and was dropped',
    registers: [this.registry],
  });

  readonly persistLag = new client.Histogram({
    name: 'interaction_persist_lag_seconds',
    help: 'Time from the API accepting an interaction to its row being committed',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300],
    registers: [this.registry],
  });

  constructor(processName: 'web' | 'worker') {
    this.registry.setDefaultLabels({ process: processName });
    client.collectDefaultMetrics({ register: this.registry });
  }

  /** Reports the queue's job counts by state at each scrape. */
  trackQueue(queue: Queue): void {
    new client.Gauge({
      name: 'queue_jobs',
      help: 'Jobs in the queue by state',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      async collect() {
        const counts = await queue
          .getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children')
          .catch(() => undefined);
        this.reset(); // Redis away: report nothing rather than the last values
        for (const [state, count] of Object.entries(counts ?? {})) this.set({ queue: queue.name, state }, count);
      },
    });
  }

  /**
   * Reports the rows waiting in the outbox (interactions committed by collections and gigs, not yet
   * relayed: a backlog during a Redis outage) and in cooccurrence_pending (first positives not yet
   * folded into the co-occurrence counts: the collaborative signal's lag).
   */
  trackOutbox(db: Knex): void {
    for (const [name, table, help] of [
      ['outbox_rows', 'outbox', 'Jobs committed to the outbox and not yet relayed to the queue'],
      ['cooccurrence_pending_rows', 'cooccurrence_pending', 'First positive interactions stored and not yet folded into co-occurrence'],
    ] as const) {
      new client.Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          const result = await db.raw<{ rows: { n: string }[] }>('select count(*) as n from ??', [table]).catch(() => undefined);
          this.reset();
          if (result) this.set(Number(result.rows[0]!.n));
        },
      });
    }
  }

  private readonly requestTimers = new Map<string, client.Histogram.Internal<'method' | 'route' | 'status_code'>>();

  /**
   * Records a request's duration under its route pattern (never the raw URL: ids would explode the
   * series). The labelled child of each (method, route, status) is kept: finding it from a label
   * object on every request cost more than the observation.
   */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    const key = `${method} ${route} ${statusCode}`;
    let timer = this.requestTimers.get(key);
    if (!timer) {
      timer = this.httpDuration.labels(method, route, String(statusCode));
      this.requestTimers.set(key, timer);
    }
    timer.observe(seconds);
  }

  /** GET handler in the Prometheus text format. */
  handler(): RequestHandler {
    return async (_req, res) => {
      res.set('Content-Type', this.registry.contentType).send(await this.registry.metrics());
    };
  }
}
