// The naive baseline of the drain phase: one BullMQ job per interaction, and per job one INSERT
// and one score upsert in a transaction on a plain pg Pool. No batching, nothing clever; this is
// what the service's worker must beat. Run as its own process (like the service's worker), with
// DATABASE_URL, REDIS_URL and QUEUE_PREFIX; the orchestrator enqueues with `enqueueNaiveJobs`.
import { Queue, Worker, type Job } from 'bullmq';
import { Pool } from 'pg';
import { QUEUE_NAME } from './infra';
import { WEIGHTS, type Action } from './workload';

export interface NaiveJob {
  id: string;
  userId: string;
  eventId: string;
  action: Action;
  acceptedAt: string;
}

/** The options the service gives its jobs, so that Redis does the same work per job. */
const JOB_OPTIONS = {
  attempts: 15,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 14 * 24 * 3600 },
};

export async function enqueueNaiveJobs(redisUrl: string, prefix: string, jobs: NaiveJob[], chunk = 1000): Promise<void> {
  const queue = new Queue(QUEUE_NAME, { connection: { url: redisUrl }, prefix });
  try {
    for (let i = 0; i < jobs.length; i += chunk) {
      await queue.addBulk(
        jobs.slice(i, i + chunk).map((data) => ({ name: 'naive.record', data, opts: { ...JOB_OPTIONS, jobId: data.id } })),
      );
    }
  } finally {
    await queue.close();
  }
}

async function persist(pool: Pool, job: NaiveJob): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const inserted = await client.query(
      `insert into interactions (id, user_id, event_id, action, source, created_at, occurred_at)
       values ($1, $2, $3, $4, 'api', $5, $5) on conflict (id, created_at) do nothing`,
      [job.id, job.userId, job.eventId, job.action, job.acceptedAt],
    );
    // Only a new row moves the score, so a redelivered job changes nothing (as in the service).
    if (inserted.rowCount === 1) {
      await client.query(
        `insert into user_event_scores (user_id, event_id, score, interaction_count, last_interaction_at)
         values ($1, $2, $3, 1, $4)
         on conflict (user_id, event_id) do update
           set score = user_event_scores.score + excluded.score,
               interaction_count = user_event_scores.interaction_count + 1,
               last_interaction_at = greatest(user_event_scores.last_interaction_at, excluded.last_interaction_at),
               updated_at = now()`,
        [job.userId, job.eventId, WEIGHTS[job.action], job.acceptedAt],
      );
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

function main(): void {
  const env = process.env;
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: Number(env.POOL_MAX ?? 10) });
  const worker = new Worker(QUEUE_NAME, (job: Job<NaiveJob>) => persist(pool, job.data), {
    connection: { url: env.REDIS_URL, maxRetriesPerRequest: null },
    prefix: env.QUEUE_PREFIX,
    concurrency: Number(env.CONCURRENCY ?? 16),
  });
  worker.on('failed', (job, error) => console.error(`job ${job?.id} failed: ${error.message}`));
  const stop = () => {
    void worker
      .close()
      .then(() => pool.end())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) main();
