import { hkdfSync } from 'node:crypto';
import { z } from 'zod';
import type { ModelSettings } from './domain/model';
import { RECOMMENDATION_SETTINGS, type CandidateLimits, type RankingSettings } from './domain/fitted-settings';
import { ACTIONS, DEFAULT_WEIGHTS, type ActionWeights } from './domain/weights';

const DEV_JWT_SECRET = 'dev-only-secret-do-not-use-in-production';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const weightsOverride = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON, e.g. {"VIEW":1,"DISMISS":-10}' });
      return z.NEVER;
    }
  })
  .pipe(z.partialRecord(z.enum(ACTIONS), z.number().finite()));

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('production'),
  PORT: port(3000),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgres://postgres@127.0.0.1:5432/interactions'),
  DATABASE_POOL_MAX: positiveInt(10),
  DATABASE_READ_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^[\w.-]+:\d{1,5}(,[\w.-]+:\d{1,5})*$/, 'must be host:port pairs separated by commas')
    .transform((list) =>
      list.split(',').map((node) => ({ host: node.slice(0, node.lastIndexOf(':')), port: Number(node.slice(node.lastIndexOf(':') + 1)) })),
    )
    .optional(),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[\w{}:.-]+$/, 'letters, digits and _ - . : { } only')
    .default('interactions'),
  JWT_SECRET: z.string().min(1).optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  // Signs queued jobs (the worker refuses any other); derived from JWT_SECRET when unset.
  JOB_SIGNING_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ACTION_WEIGHTS: weightsOverride.optional(),
  // Unset: the fitted half-life of src/domain/recommendation-settings.json.
  SCORE_HALF_LIFE_DAYS: z.coerce.number().positive().max(3650).default(RECOMMENDATION_SETTINGS.model.halfLifeDays),
  SCORE_EPOCH: z.iso.datetime({ offset: true }).default('2026-01-01T00:00:00Z'),
  WORKER_CONCURRENCY: positiveInt(64),
  WORKER_TRANSACTIONS: positiveInt(2).pipe(z.number().max(64)),
  WORKER_LOCK_MS: positiveInt(30_000).pipe(z.number().min(1000, 'must be at least 1000')),
  JOB_ATTEMPTS: positiveInt(15),
  JOB_BACKOFF_MS: positiveInt(1000),
  // Capped so that a request with Redis away is answered (503) within two seconds.
  ENQUEUE_TIMEOUT_MS: positiveInt(1500).pipe(z.number().max(1900)),
  // How long an event seen to exist is taken to exist without asking the database (0: always ask).
  EVENT_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
  // How old a stored ranking may be and still serve a first page (0: rank every first page afresh).
  FEED_RANKING_MAX_AGE_S: z.coerce.number().int().min(0).max(3600).default(300),
  // Writes (POST, DELETE) one user may send per minute, across all API processes (0: no limit).
  RATE_LIMIT_WRITES_PER_MINUTE: z.coerce.number().int().min(0).default(600),
  // Reads (GET) one user may send per minute, across all API processes (0: no limit).
  RATE_LIMIT_READS_PER_MINUTE: z.coerce.number().int().min(0).default(1200),
  // What one user may keep: collections, and events across all their collections.
  COLLECTIONS_PER_USER_MAX: positiveInt(1000),
  COLLECTION_EVENTS_PER_USER_MAX: positiveInt(10_000),
  // Feeds one API process ranks at once, and first pages that may wait for one of those (more: 503).
  FEED_RANKING_CONCURRENCY: positiveInt(4).pipe(z.number().max(64)),
  FEED_RANKING_QUEUE: z.coerce.number().int().min(0).max(10_000).default(32),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ADMIN_USERNAME: z.string().min(1).max(100).optional(),
  ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').max(200).optional(),
  WORKER_PORT: port(9091),
  // At least 5 s: the API spends its first 2 s draining (see server.ts).
  SHUTDOWN_TIMEOUT_MS: positiveInt(25_000).pipe(z.number().min(5000, 'must be at least 5000 (the API drains for 2 s first)')),
});

/** The service's whole configuration, parsed once from the environment. */
export interface Config {
  /** `production` unless told otherwise, so a forgotten variable never weakens a deployment. */
  readonly env: 'development' | 'test' | 'production';
  /** HTTP port of the API; 0 picks a free one (tests). */
  readonly port: number;
  readonly databaseUrl: string;
  readonly databasePoolMax: number;
  /** A streaming replica of that database for the feed's reads; unset: the feed reads the primary. */
  readonly databaseReadUrl?: string;
  readonly redisUrl: string;
  /** Seed nodes of a Redis Cluster; when set, REDIS_URL is not used. */
  readonly redisClusterNodes?: readonly { readonly host: string; readonly port: number }[];
  /** BullMQ key prefix; give each deployment (and each test run) its own. */
  readonly queuePrefix: string;
  readonly jwt: { readonly secret: string; readonly issuer?: string; readonly audience?: string };
  /**
   * The key every job is signed with (JOB_SIGNING_SECRET, else derived from JWT_SECRET): the worker
   * refuses jobs the service did not make. Changing it fails the jobs still queued, so drain first.
   */
  readonly jobSigningKey: Buffer;
  /** Score added to a (user, event) pair per action: the one weight table, with overrides applied. */
  readonly weights: ActionWeights;
  /** The recommendation model's settings; the derived tables are rebuilt when they change. */
  readonly model: ModelSettings;
  /** How feeds are ranked from the model (src/domain/recommendation-settings.json; no rebuild needed). */
  readonly feed: { readonly ranking: RankingSettings; readonly candidates: CandidateLimits };
  /**
   * Jobs in hand at once, database transactions they are written in at once (each for its own
   * users), and how long a job stays claimed by a worker that stopped renewing its claim (a crashed
   * worker's jobs go back to the queue within about twice this).
   */
  readonly worker: { readonly concurrency: number; readonly transactions: number; readonly lockMs: number };
  readonly jobs: { readonly attempts: number; readonly backoffMs: number };
  /**
   * A request's deadline for everything it waits on Redis (the rate limit, the enqueue, the feed's
   * state), counted from its arrival: past it, the answer is a 503 with Retry-After.
   */
  readonly enqueueTimeoutMs: number;
  readonly eventCacheTtlMs: number;
  /**
   * How long a user's stored ranking may serve their first pages while it is true to the model:
   * events created, and popularity moved, since it was made wait at most that long.
   */
  readonly feedRankingMaxAgeMs: number;
  /** Per-user request limits per minute (0: none). */
  readonly rateLimits: { readonly readsPerMinute: number; readonly writesPerMinute: number };
  /** What one user may keep; beyond it, 409 limit_reached. */
  readonly collectionLimits: { readonly collectionsPerUser: number; readonly eventsPerUser: number };
  /**
   * Feeds ranked at once by one API process (concurrent first pages of one user share one), and
   * how many more first pages may wait for a slot; beyond that, or past their deadline, 503.
   */
  readonly feedRanking: { readonly concurrency: number; readonly queue: number };
  readonly logLevel: string;
  /** HTTP Basic credentials of the ops dashboard and /metrics; unset, the dashboard is not served. */
  readonly admin?: { readonly username: string; readonly password: string };
  /** Port of the worker process's /healthz, /readyz and /metrics. */
  readonly workerPort: number;
  /** How long a process may take to finish in-flight requests and jobs after SIGTERM. */
  readonly shutdownTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses an environment into a frozen Config, listing every bad variable at once. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset" (a blank line in a .env file must not become a value).
  const env = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const parsed = schema.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'} ${issue.message}`);
  // Checked even when other variables are wrong, so one start-up lists every problem.
  if (!env.JWT_SECRET && (env.NODE_ENV ?? 'production') === 'production') {
    problems.push('JWT_SECRET is required when NODE_ENV is production (or unset); set NODE_ENV=development for local use');
  }
  const weights = { ...DEFAULT_WEIGHTS, ...parsed.data?.ACTION_WEIGHTS };
  for (const action of ACTIONS) {
    const negative = action === 'DISMISS';
    if (negative ? weights[action] >= 0 : weights[action] <= 0) {
      problems.push(`ACTION_WEIGHTS.${action} must be ${negative ? 'negative' : 'positive'}`);
    }
  }
  const epoch = schema.shape.SCORE_EPOCH.safeParse(env.SCORE_EPOCH);
  const halfLifeDays = schema.shape.SCORE_HALF_LIFE_DAYS.safeParse(env.SCORE_HALF_LIFE_DAYS);
  if (epoch.success && halfLifeDays.success) {
    // Stored values are scaled by 2^((t − epoch) / half-life), which overflows past 1024 half-lives.
    const halfLives = Math.abs(Date.now() - Date.parse(epoch.data)) / (halfLifeDays.data * 86_400_000);
    if (halfLives > 900) {
      problems.push(
        `SCORE_EPOCH is ${Math.round(halfLives)} half-lives from now (at most 900 for SCORE_HALF_LIFE_DAYS=${halfLifeDays.data}); set it to a recent date (the workers then rebuild the model)`,
      );
    }
  }
  // BullMQ runs each queue command as one script over the queue's keys: on a cluster they must share a slot.
  if (env.REDIS_CLUSTER_NODES && !/\{[^{}]+\}/.test(env.QUEUE_PREFIX ?? '')) {
    problems.push('QUEUE_PREFIX needs a hash tag on a Redis Cluster, e.g. {interactions}');
  }
  if (!env.ADMIN_USERNAME !== !env.ADMIN_PASSWORD) problems.push('ADMIN_USERNAME and ADMIN_PASSWORD go together: set both or neither');
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;

  return deepFreeze({
    env: e.NODE_ENV,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    databaseReadUrl: e.DATABASE_READ_URL,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES,
    queuePrefix: e.QUEUE_PREFIX,
    jwt: { secret: e.JWT_SECRET ?? DEV_JWT_SECRET, issuer: e.JWT_ISSUER, audience: e.JWT_AUDIENCE },
    jobSigningKey: e.JOB_SIGNING_SECRET
      ? Buffer.from(e.JOB_SIGNING_SECRET, 'utf8')
      : Buffer.from(hkdfSync('sha256', e.JWT_SECRET ?? DEV_JWT_SECRET, '', 'interaction-tracking job signatures', 32)),
    weights,
    model: {
      version: RECOMMENDATION_SETTINGS.version,
      weights,
      halfLifeDays: e.SCORE_HALF_LIFE_DAYS,
      epoch: new Date(e.SCORE_EPOCH).toISOString(),
      cooccurrenceWindow: RECOMMENDATION_SETTINGS.model.cooccurrenceWindow,
    },
    feed: { ranking: RECOMMENDATION_SETTINGS.ranking, candidates: RECOMMENDATION_SETTINGS.candidates },
    worker: { concurrency: e.WORKER_CONCURRENCY, transactions: e.WORKER_TRANSACTIONS, lockMs: e.WORKER_LOCK_MS },
    jobs: { attempts: e.JOB_ATTEMPTS, backoffMs: e.JOB_BACKOFF_MS },
    enqueueTimeoutMs: e.ENQUEUE_TIMEOUT_MS,
    eventCacheTtlMs: e.EVENT_CACHE_TTL_MS,
    feedRankingMaxAgeMs: e.FEED_RANKING_MAX_AGE_S * 1000,
    rateLimits: { readsPerMinute: e.RATE_LIMIT_READS_PER_MINUTE, writesPerMinute: e.RATE_LIMIT_WRITES_PER_MINUTE },
    collectionLimits: { collectionsPerUser: e.COLLECTIONS_PER_USER_MAX, eventsPerUser: e.COLLECTION_EVENTS_PER_USER_MAX },
    feedRanking: { concurrency: e.FEED_RANKING_CONCURRENCY, queue: e.FEED_RANKING_QUEUE },
    logLevel: e.LOG_LEVEL,
    admin: e.ADMIN_USERNAME && e.ADMIN_PASSWORD ? { username: e.ADMIN_USERNAME, password: e.ADMIN_PASSWORD } : undefined,
    workerPort: e.WORKER_PORT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  });
}

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) {
    if (inner && typeof inner === 'object' && !Buffer.isBuffer(inner)) deepFreeze(inner as object);
  }
  return Object.freeze(value);
}
