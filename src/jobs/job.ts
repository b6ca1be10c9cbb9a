import type { z } from 'zod';
import type { Config } from '../config';
import type { Db } from '../data/db';
import type { Logger } from '../ops/logger';
import type { Metrics } from '../ops/metrics';
import type { InteractionWriter } from './interaction-writer';

/** What a job's handler may use: the worker process's own dependencies. */
export interface WorkerDeps {
  config: Config;
  db: Db;
  logger: Logger;
  metrics?: Metrics;
  /** Shares transactions between the jobs in hand; without it, each job is its own transaction. */
  writer?: InteractionWriter;
  /** Told after a commit that stored rows (the co-occurrence fold has work). */
  afterStore?: () => void;
}

/**
 * One kind of job: its name (stable: jobs outlive deployments), the schema of its payload, and what
 * the worker does with it. A handler is given a payload already validated and checked to be signed
 * by the service, and must be safe to run twice for one job (a retry, a redelivery after a crash).
 */
export interface JobDefinition<N extends string = string, S extends z.ZodType = z.ZodType> {
  name: N;
  payload: S;
  /** false: deleted once done, rather than kept among the completed jobs the dashboard shows (and their cap counts). */
  keepCompleted?: false;
  handle(deps: WorkerDeps, payload: z.infer<S>, log: Logger): Promise<unknown>;
}

export const defineJob = <N extends string, S extends z.ZodType>(job: JobDefinition<N, S>): JobDefinition<N, S> => job;
