import { hkdfSync } from 'node:crypto';
import { z } from 'zod';
import { RECOMMENDATION_SETTINGS } from './domain/fitted-settings';
import { ACTIONS, DEFAULT_WEIGHTS } from './domain/weights';
import { experimentSchema, NO_EXPERIMENT } from './feed/experiment';

const DEV_JWT_SECRET = 'dev-only-secret-do-not-use-in-production';
const DAY_MS = 86_400_000;

/**
 * Who sets a variable: a deployment (where things are, secrets), scaling (how much one process
 * takes on), the model (what the derived tables store: changing one makes the workers rebuild
 * them), or tuning (limits and timings with working defaults).
 */
export const CONFIG_GROUPS = {
  deployment: 'What a deployment sets',
  scaling: 'Scaling',
  model: 'The model (a change rebuilds the derived tables)',
  tuning: 'Limits and tuning',
} as const;

export interface VariableDoc {
  group: keyof typeof CONFIG_GROUPS;
  description: string;
  /** How the default reads in the docs, where the parsed default alone would mislead. */
  shownDefault?: string;
}

/** Every variable is declared once: its type, its default, its group and what it means. */
const variable = <T extends z.ZodType>(type: T, doc: VariableDoc) => type.meta({ ...doc });

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const postgresUrl = () => z.url({ protocol: /^postgres(ql)?$/ });

const hostPorts = () =>
  z
    .string()
    .regex(/^[\w.-]+:\d{1,5}(,[\w.-]+:\d{1,5})*$/, 'must be host:port pairs separated by commas')
    .transform((list) =>
      list.split(',').map((node) => ({ host: node.slice(0, node.lastIndexOf(':')), port: Number(node.slice(node.lastIndexOf(':') + 1)) })),
    );

const json = (example: string) =>
  z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be JSON, e.g. ${example}` });
      return z.NEVER;
    }
  });

const actionWeights = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON, e.g. {"VIEW":1,"DISMISS":-10}' });
      return z.NEVER;
    }
  })
  .pipe(z.partialRecord(z.enum(ACTIONS), z.number().finite()))
  .transform((overrides) => ({ ...DEFAULT_WEIGHTS, ...overrides }))
  .superRefine((weights, ctx) => {
    for (const action of ACTIONS) {
      const negative = action === 'DISMISS';
      if (negative ? weights[action] >= 0 : weights[action] <= 0) {
        ctx.addIssue({ code: 'custom', message: `${action} must be ${negative ? 'negative' : 'positive'}` });
      }
    }
  });

const variables = z.object({
  NODE_ENV: variable(z.enum(['development', 'test', 'production']).default('production'), {
    group: 'deployment',
    description:
      '`development`, `test` or `production`; `production` unless told otherwise, so a forgotten variable never weakens a deployment',
  }),
  PORT: variable(port(3000), { group: 'deployment', description: 'API port; 0 picks a free one' }),
  DATABASE_URL: variable(postgresUrl().default('postgres://postgres@127.0.0.1:5432/interactions'), {
    group: 'deployment',
    description: 'PostgreSQL; the release step (and `npm run dev`) creates the database if missing',
  }),
  DATABASE_READ_URL: variable(postgresUrl().optional(), {
    group: 'deployment',
    description:
      "a streaming replica of that database, for the feed's, similar events' and feed statistics' reads (docs/architecture.md); the API's other reads, the event check and every write stay on the primary",
  }),
  REDIS_URL: variable(z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'), {
    group: 'deployment',
    description: 'Redis for the queue, rate limits and feed rankings (AOF on, `maxmemory-policy noeviction`)',
  }),
  REDIS_CLUSTER_NODES: variable(hostPorts().optional(), {
    group: 'deployment',
    description:
      'seed nodes of a Redis Cluster, `host:port,host:port`; replaces `REDIS_URL`, and needs a hash-tagged `QUEUE_PREFIX` such as `{interactions}` (docs/scaling.md)',
  }),
  REDIS_SENTINELS: variable(hostPorts().optional(), {
    group: 'deployment',
    description:
      'Redis Sentinel nodes, `host:port,host:port`, with `REDIS_SENTINEL_NAME`: replaces `REDIS_URL` (its password and database still apply); every connection follows a failover to the new primary by itself',
  }),
  REDIS_SENTINEL_NAME: variable(z.string().min(1).max(200).optional(), {
    group: 'deployment',
    description: 'the name the sentinels monitor the primary under (`sentinel monitor <name> …`)',
  }),
  REDIS_MIN_REPLICAS_ACK: variable(z.coerce.number().int().min(0).max(16).default(0), {
    group: 'deployment',
    description:
      'replicas that must hold a job (`WAIT`) before the API answers 202; otherwise 503 and the job is withdrawn. With replicas and Sentinel, set at least 1, so that a failover loses no acknowledged interaction; 0: the primary alone',
  }),
  QUEUE_PREFIX: variable(
    z
      .string()
      .regex(/^[\w{}:.-]+$/, 'letters, digits and _ - . : { } only')
      .default('interactions'),
    { group: 'deployment', description: 'prefix of every Redis key; one per deployment (and per test run)' },
  ),
  TRUST_PROXY: variable(
    z
      .string()
      .regex(
        /^(true|false|\d+|[\w.:/]+(\s*,\s*[\w.:/]+)*)$/,
        'must be true, false, a number of proxies, or addresses and subnets separated by commas',
      )
      .transform((value): boolean | number | string =>
        value === 'true' ? true : value === 'false' ? false : /^\d+$/.test(value) ? Number(value) : value,
      )
      .optional(),
    {
      group: 'deployment',
      description:
        "which proxies in front of the API to believe about the client's address (X-Forwarded-For), as Express's `trust proxy`: `true`, a number of hops, or addresses and subnets (`loopback`, `10.0.0.0/8`). Unset: none, and the dashboard's failed-login throttle counts the address it is connected to, the load balancer's behind one",
    },
  ),
  CORS_ORIGINS: variable(
    z
      .string()
      .transform((list) => list.split(',').map((origin) => origin.trim()))
      .pipe(z.array(z.string().regex(/^https?:\/\/[\w.-]+(:\d{1,5})?$/, 'must be origins such as https://app.example.com')))
      .optional(),
    {
      group: 'deployment',
      description:
        'origins of the web apps that call the API from a browser, `https://app.example.com,https://m.example.com`; unset, no cross-origin access (the operations surface never has it)',
    },
  ),
  JWT_SECRET: variable(z.string().min(1).optional(), {
    group: 'deployment',
    description: 'HS256 secret of the bearer tokens; required unless `NODE_ENV` is `development` or `test`',
    shownDefault: 'none in production; a dev secret otherwise',
  }),
  JWT_ISSUER: variable(z.string().min(1).optional(), { group: 'deployment', description: 'required `iss` of tokens, when set' }),
  JWT_AUDIENCE: variable(z.string().min(1).optional(), { group: 'deployment', description: 'required `aud` of tokens, when set' }),
  JWT_REQUIRE_EXP: variable(z.enum(['true', 'false']).optional(), {
    group: 'deployment',
    description: 'whether a token without `exp` is refused (401); a token whose `iat` is more than a minute ahead always is',
    shownDefault: '`true` in production, `false` otherwise',
  }),
  JOB_SIGNING_SECRET: variable(z.string().min(32, 'must be at least 32 characters').optional(), {
    group: 'deployment',
    description:
      'key of the HMAC every job carries; the worker refuses a job without a valid one. 32+ characters. Drain the queue before changing it (or `JWT_SECRET` while this is unset)',
    shownDefault: 'derived from `JWT_SECRET`',
  }),
  ADMIN_USERNAME: variable(z.string().min(1).max(100).optional(), {
    group: 'deployment',
    description: 'with `ADMIN_PASSWORD` (12+ characters): the login of the queue dashboard and `/metrics`; unset, neither is served',
  }),
  ADMIN_PASSWORD: variable(z.string().min(12, 'must be at least 12 characters').max(200).optional(), {
    group: 'deployment',
    description: 'see `ADMIN_USERNAME`',
  }),
  WORKER_PORT: variable(port(9091), { group: 'deployment', description: "the worker process's `/healthz`, `/readyz` and `/metrics`" }),
  LOG_LEVEL: variable(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), {
    group: 'deployment',
    description: 'pino level (`silent` in tests)',
  }),

  DATABASE_POOL_MAX: variable(positiveInt(10), {
    group: 'scaling',
    description: 'PostgreSQL connections per pool (the API opens a second one to `DATABASE_READ_URL`)',
  }),
  DATABASE_PREPARED_STATEMENTS: variable(z.enum(['true', 'false']).default('true'), {
    group: 'scaling',
    description:
      "whether the feed's candidate statement and that of similar events are prepared once per connection, which spares planning them on every request; `false` behind a connection pooler in transaction mode that does not keep prepared statements (PgBouncer before 1.21)",
  }),
  WORKER_CONCURRENCY: variable(positiveInt(64), { group: 'scaling', description: 'jobs a worker process has in hand at once' }),
  WORKER_TRANSACTIONS: variable(positiveInt(2).pipe(z.number().max(64)), {
    group: 'scaling',
    description: 'database transactions a worker process runs at once, each for its own users (about one per PostgreSQL core)',
  }),
  FEED_RANKING_CONCURRENCY: variable(positiveInt(4).pipe(z.number().max(64)), {
    group: 'scaling',
    description: 'feeds one API process ranks at once (concurrent first pages of one user share one ranking)',
  }),
  FEED_RANKING_QUEUE: variable(z.coerce.number().int().min(0).max(10_000).default(32), {
    group: 'scaling',
    description: 'first pages that may wait for a ranking slot, each until its deadline; beyond it `503` with `Retry-After: 1` at once',
  }),

  RECOMMENDATION_SETTINGS_FILE: variable(z.string().optional(), {
    group: 'model',
    description:
      "a settings file to use instead of src/domain/recommendation-settings.json, as `npm run eval -- --fit --out FILE` writes it (say, fitted on the platform's own data with `--database`); read once at start, and the workers rebuild the model when it changes what they store",
    shownDefault: 'the shipped settings',
  }),
  FEED_EXPERIMENT: variable(
    json('[{"name":"control","share":0.5},{"name":"fresh","share":0.5,"settings":{"ranking":{"recencyDecay":0.75}}}]')
      .pipe(experimentSchema)
      .optional(),
    {
      group: 'tuning',
      description:
        'an experiment on the feed\'s ranking: JSON `[{"name", "share", "settings"?}]`, shares adding up to 1, `settings` overriding `ranking` and `candidates` of src/domain/recommendation-settings.json (not `model`: the workers store it). Users are dealt to variants by a stable hash of their id and the variants\' names; every feed page and its impression carry the variant, and GET /admin/feed/stats compares them',
      shownDefault: 'none (one variant, `control`)',
    },
  ),
  ACTION_WEIGHTS: variable(actionWeights.optional(), {
    group: 'model',
    description: 'JSON overriding some action weights, e.g. `{"VIEW":0.5}`; `DISMISS` must stay negative, the rest positive',
    shownDefault: 'the action table (README)',
  }),
  SCORE_HALF_LIFE_DAYS: variable(z.coerce.number().positive().max(3650).default(RECOMMENDATION_SETTINGS.model.halfLifeDays), {
    group: 'model',
    description:
      'interest and popularity count half as much after this many days; unset, the fitted value of the recommendation settings (`src/domain/recommendation-settings.json`, or `RECOMMENDATION_SETTINGS_FILE`)',
  }),
  SCORE_EPOCH: variable(z.iso.datetime({ offset: true }).default('2026-01-01T00:00:00Z'), {
    group: 'model',
    description: 'the instant decayed values are stored against (docs/recommendation-model.md); at most 900 half-lives from now',
  }),

  WORKER_LOCK_MS: variable(positiveInt(30_000).pipe(z.number().min(1000, 'must be at least 1000')), {
    group: 'tuning',
    description:
      'how long a job stays claimed by a worker that stopped renewing the claim; a crashed worker’s jobs are delivered again within about twice this',
  }),
  JOB_ATTEMPTS: variable(positiveInt(15), { group: 'tuning', description: 'tries per job before it is kept as failed' }),
  JOB_BACKOFF_MS: variable(positiveInt(1000), {
    group: 'tuning',
    description: 'first retry delay, doubled each time (15 tries span about 4.5 hours)',
  }),
  ENQUEUE_TIMEOUT_MS: variable(positiveInt(1500).pipe(z.number().max(1900)), {
    group: 'tuning',
    description:
      "a request's deadline for everything it waits on Redis (the rate limit, the enqueue, the feed's state), from its arrival and again once its body is read; past it 503 with `Retry-After`, but the rate-limit check gives up after 250 ms and lets the request through. At most 1900, so that the answer comes within 2 s of the body",
  }),
  BODY_TIMEOUT_MS: variable(z.coerce.number().int().min(1000).max(600_000).default(30_000), {
    group: 'tuning',
    description:
      "how long a request's body may take to arrive, from when its route starts reading it (after the token and rate limit); past it 408 `request_timeout` and the connection is closed. A slow upload does not spend the Redis deadline, which starts once the body is read",
  }),
  EVENT_CACHE_TTL_MS: variable(z.coerce.number().int().min(0).max(60_000).default(5000), {
    group: 'tuning',
    description:
      'how long the API takes an event it found to still exist, and what a feed page shows of it, without asking the database (0: always ask)',
  }),
  FEED_RANKING_MAX_AGE_S: variable(z.coerce.number().int().min(0).max(3600).default(300), {
    group: 'tuning',
    description:
      "how old a user's stored feed ranking may be and still serve a first page while true to the model: events created, popularity moved, and the co-occurrence folded or the item model fitted since it was made wait at most that long; a user's rankings are kept 30 minutes longer, for cursors (0: rank every first page)",
  }),
  RATE_LIMIT_WRITES_PER_MINUTE: variable(z.coerce.number().int().min(0).default(600), {
    group: 'tuning',
    description:
      'writes (every method but GET, HEAD and OPTIONS; each item of a batch) one user may send per minute across all API processes, counted in Redis; past it `429` with `Retry-After`; 0: no limit',
  }),
  RATE_LIMIT_READS_PER_MINUTE: variable(z.coerce.number().int().min(0).default(1200), {
    group: 'tuning',
    description:
      'reads (GET, HEAD, OPTIONS) one user may send per minute, counted apart from writes; past it `429` with `Retry-After`; 0: no limit',
  }),
  COLLECTIONS_PER_USER_MAX: variable(positiveInt(1000), {
    group: 'tuning',
    description: 'collections one user may keep; past it `409 limit_reached`',
  }),
  COLLECTION_EVENTS_PER_USER_MAX: variable(positiveInt(10_000), {
    group: 'tuning',
    description: 'events one user may keep across their collections; past it `409 limit_reached`',
  }),
  FEED_ATTRIBUTION_HOURS: variable(
    z.coerce
      .number()
      .positive()
      .max(24 * 30)
      .default(24),
    {
      group: 'tuning',
      description:
        'an interaction without a recommendationId is attributed to the latest feed page that showed its event to its user within this many hours before it (GET /admin/feed/stats)',
    },
  ),
  FEED_IMPRESSIONS_RETENTION_DAYS: variable(z.coerce.number().int().positive().max(3650).default(90), {
    group: 'tuning',
    description: 'how long feed_impressions keeps the pages served; the worker deletes older rows, at most once an hour',
  }),
  ITEM_MODEL_REFIT_MS: variable(z.coerce.number().int().min(0).max(86_400_000).default(60_000), {
    group: 'tuning',
    description:
      'how long a change in the positives may wait for the item model (EASE over the most popular events; seconds of one core per fit, in a worker) to be fitted again: sooner once they have grown 10 % since the last fit and the worker is quiet, never when nothing changed; 0: never fitted again (the last fit stays in use unless `weights.itemModel` is 0)',
  }),
  INTERACTION_MAX_AGE_DAYS: variable(z.coerce.number().positive().max(365).default(7), {
    group: 'tuning',
    description:
      'how long ago an interaction may have happened (`occurredAt`, corrected by `sentAt`) and still be recorded; older: `400 occurred_at_out_of_range`',
  }),
  WEB_HEAP_GROWTH_PERCENT: variable(
    z.coerce
      .number()
      .int()
      .default(50)
      // Below 10 % the process would collect its whole heap almost continuously; above 300 % is more than V8's own factor.
      .refine((n) => n === 0 || (n >= 10 && n <= 300), "must be 0 (V8's own factor) or 10-300"),
    {
      group: 'tuning',
      description:
        "how far the API process lets V8's old generation grow past what was live at its last full collection before the next, in percent: 10-300, or 0 for V8's own factor, which under load is 300 % (about twice the memory for the same work). Not a cap: the heap still grows to whatever is live",
    },
  ),
  SHUTDOWN_TIMEOUT_MS: variable(positiveInt(25_000).pipe(z.number().min(5000, 'must be at least 5000 (the API drains for 2 s first)')), {
    group: 'tuning',
    description: 'after SIGTERM, how long a process may take to finish its requests and jobs before it exits 1',
  }),
});

type Variables = z.output<typeof variables>;

// Rules across variables. They run even when some variable is wrong, so that one start-up lists
// every problem; each reads only what parsed.
const always = { when: () => true };
const crossChecked = variables.superRefine((e: Partial<Variables>, ctx) => {
  const problem = (path: keyof Variables, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (!e.JWT_SECRET && (e.NODE_ENV ?? 'production') === 'production') {
    problem('JWT_SECRET', 'is required when NODE_ENV is production (or unset); set NODE_ENV=development for local use');
  }
  if (typeof e.SCORE_HALF_LIFE_DAYS === 'number' && typeof e.SCORE_EPOCH === 'string' && !Number.isNaN(Date.parse(e.SCORE_EPOCH))) {
    // Stored values are scaled by 2^((t − epoch) / half-life), which overflows past 1024 half-lives.
    const halfLives = Math.abs(Date.now() - Date.parse(e.SCORE_EPOCH)) / (e.SCORE_HALF_LIFE_DAYS * DAY_MS);
    if (halfLives > 900) {
      problem(
        'SCORE_EPOCH',
        `is ${Math.round(halfLives)} half-lives from now (at most 900 for SCORE_HALF_LIFE_DAYS=${e.SCORE_HALF_LIFE_DAYS}); set it to a recent date (the workers then rebuild the model)`,
      );
    }
  }
  // BullMQ runs each queue command as one script over the queue's keys: on a cluster they must share a slot.
  if (e.REDIS_CLUSTER_NODES && !/\{[^{}]+\}/.test(e.QUEUE_PREFIX ?? '')) {
    problem('QUEUE_PREFIX', 'needs a hash tag on a Redis Cluster, e.g. {interactions}');
  }
  if (!e.REDIS_SENTINELS !== !e.REDIS_SENTINEL_NAME) problem('REDIS_SENTINELS', 'and REDIS_SENTINEL_NAME go together: set both or neither');
  if (e.REDIS_SENTINELS && e.REDIS_CLUSTER_NODES) problem('REDIS_SENTINELS', 'and REDIS_CLUSTER_NODES exclude each other');
  if (typeof e.REDIS_MIN_REPLICAS_ACK === 'number' && e.REDIS_MIN_REPLICAS_ACK > 0 && e.REDIS_CLUSTER_NODES) {
    problem('REDIS_MIN_REPLICAS_ACK', 'is for one primary (with Sentinel), not a Redis Cluster');
  }
  if (!e.ADMIN_USERNAME !== !e.ADMIN_PASSWORD) problem('ADMIN_USERNAME', 'and ADMIN_PASSWORD go together: set both or neither');
}, always);

/** The environment, validated, as the service uses it. */
const configSchema = crossChecked.transform((e) => {
  const secret = e.JWT_SECRET ?? DEV_JWT_SECRET;
  const weights = e.ACTION_WEIGHTS ?? DEFAULT_WEIGHTS;
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    databasePreparedStatements: e.DATABASE_PREPARED_STATEMENTS === 'true',
    databaseReadUrl: e.DATABASE_READ_URL,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES,
    redisSentinel: e.REDIS_SENTINELS && e.REDIS_SENTINEL_NAME ? { nodes: e.REDIS_SENTINELS, name: e.REDIS_SENTINEL_NAME } : undefined,
    redisMinReplicasAck: e.REDIS_MIN_REPLICAS_ACK,
    queuePrefix: e.QUEUE_PREFIX,
    corsOrigins: e.CORS_ORIGINS ?? [],
    trustProxy: e.TRUST_PROXY ?? false,
    jwt: {
      secret,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      requireExp: (e.JWT_REQUIRE_EXP ?? String(e.NODE_ENV === 'production')) === 'true',
    },
    jobSigningKey: e.JOB_SIGNING_SECRET
      ? Buffer.from(e.JOB_SIGNING_SECRET, 'utf8')
      : Buffer.from(hkdfSync('sha256', secret, '', 'interaction-tracking job signatures', 32)),
    /** Score added to a (user, event) pair per action: the one weight table, with overrides applied. */
    weights,
    /** The recommendation model's settings; the derived tables are rebuilt when they change. */
    model: {
      version: RECOMMENDATION_SETTINGS.version,
      weights,
      halfLifeDays: e.SCORE_HALF_LIFE_DAYS,
      epoch: new Date(e.SCORE_EPOCH).toISOString(),
      cooccurrenceWindow: RECOMMENDATION_SETTINGS.model.cooccurrenceWindow,
      cooccurrenceDistanceDecay: RECOMMENDATION_SETTINGS.model.cooccurrenceDistanceDecay,
      cooccurrenceBackward: RECOMMENDATION_SETTINGS.model.cooccurrenceBackward,
    },
    /** How feeds are ranked from the model (src/domain/recommendation-settings.json; no rebuild needed). */
    feed: { ranking: RECOMMENDATION_SETTINGS.ranking, candidates: RECOMMENDATION_SETTINGS.candidates },
    /** The item model's fit (recommendation-settings.json), and how long a change may wait for one (ITEM_MODEL_REFIT_MS; 0: off). */
    itemModel: { ...RECOMMENDATION_SETTINGS.itemModel, refitMs: e.ITEM_MODEL_REFIT_MS },
    /** The experiment's variants (FEED_EXPERIMENT), or the one variant, control. */
    feedVariants: e.FEED_EXPERIMENT ?? NO_EXPERIMENT,
    worker: { concurrency: e.WORKER_CONCURRENCY, transactions: e.WORKER_TRANSACTIONS, lockMs: e.WORKER_LOCK_MS },
    jobs: { attempts: e.JOB_ATTEMPTS, backoffMs: e.JOB_BACKOFF_MS },
    enqueueTimeoutMs: e.ENQUEUE_TIMEOUT_MS,
    bodyTimeoutMs: e.BODY_TIMEOUT_MS,
    eventCacheTtlMs: e.EVENT_CACHE_TTL_MS,
    feedRankingMaxAgeMs: e.FEED_RANKING_MAX_AGE_S * 1000,
    rateLimits: { readsPerMinute: e.RATE_LIMIT_READS_PER_MINUTE, writesPerMinute: e.RATE_LIMIT_WRITES_PER_MINUTE },
    interactionMaxAgeDays: e.INTERACTION_MAX_AGE_DAYS,
    feedImpressions: { attributionHours: e.FEED_ATTRIBUTION_HOURS, retentionDays: e.FEED_IMPRESSIONS_RETENTION_DAYS },
    collectionLimits: { collectionsPerUser: e.COLLECTIONS_PER_USER_MAX, eventsPerUser: e.COLLECTION_EVENTS_PER_USER_MAX },
    feedRanking: { concurrency: e.FEED_RANKING_CONCURRENCY, queue: e.FEED_RANKING_QUEUE },
    logLevel: e.LOG_LEVEL,
    admin: e.ADMIN_USERNAME && e.ADMIN_PASSWORD ? { username: e.ADMIN_USERNAME, password: e.ADMIN_PASSWORD } : undefined,
    workerPort: e.WORKER_PORT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    webHeapGrowthPercent: e.WEB_HEAP_GROWTH_PERCENT,
  };
});

/** The service's whole configuration, parsed once from the environment (frozen). */
export type Config = Frozen<z.output<typeof configSchema>>;

type Frozen<T> = T extends Buffer ? T : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;

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
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'} ${issue.message}`));
  }
  return deepFreeze(parsed.data) as Config;
}

/** Each variable with its documentation, default and range, in declaration order (docs/configuration.md). */
export function describeVariables(): (VariableDoc & { name: string; default: unknown; range?: string })[] {
  return Object.entries(variables.shape).map(([name, type]) => {
    const parsedDefault = (type as z.ZodType).safeParse(undefined);
    return {
      name,
      ...(type.meta() as unknown as VariableDoc),
      default: parsedDefault.success ? parsedDefault.data : undefined,
      range: rangeOf(type as z.ZodType),
    };
  });
}

/**
 * A number's bounds as the schema checks them (`1–1900`, `≥ 1`, `> 0, ≤ 3650`): the tighter of
 * what it takes in and what it hands out (a pipe checks each). A rule of its own (a refinement) is
 * not seen here: its description says it.
 */
function rangeOf(type: z.ZodType): string | undefined {
  type Bounds = { type?: string; minimum?: number; exclusiveMinimum?: number; maximum?: number };
  const sides = (['input', 'output'] as const).map((io) => z.toJSONSchema(type, { unrepresentable: 'any', io }) as Bounds);
  if (!sides.some((b) => b.type === 'integer' || b.type === 'number')) return undefined;
  const integer = sides.some((b) => b.type === 'integer');
  const known = (n: number | undefined): n is number => n !== undefined && Math.abs(n) < Number.MAX_SAFE_INTEGER;
  const max = Math.min(...sides.map((b) => b.maximum).filter(known));
  // An integer above n is at least n + 1; a number above n is only that.
  const above = Math.max(...sides.map((b) => b.exclusiveMinimum).filter(known));
  const min = Math.max(...sides.map((b) => b.minimum).filter(known), integer ? above + 1 : -Infinity);
  const low = !integer && above >= min ? `> ${above}` : Number.isFinite(min) ? `≥ ${min}` : undefined;
  if (low && Number.isFinite(max)) return low.startsWith('≥') ? `${min}–${max}` : `${low}, ≤ ${max}`;
  return low ?? (Number.isFinite(max) ? `≤ ${max}` : undefined);
}

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) {
    if (inner && typeof inner === 'object' && !Buffer.isBuffer(inner)) deepFreeze(inner as object);
  }
  return Object.freeze(value);
}
