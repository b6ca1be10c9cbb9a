import { readFileSync } from 'node:fs';
import { CONFIGURATION_DOC, renderConfigurationDoc, withoutPadding } from '../../scripts/config-docs';
import { CONFIG_GROUPS, ConfigError, describeVariables, loadConfig } from '../../src/config';
import { DEFAULT_WEIGHTS } from '../../src/domain/weights';

const problemsOf = (env: NodeJS.ProcessEnv) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('configuration', () => {
  test('has working defaults for local development', () => {
    const config = loadConfig({ NODE_ENV: 'development' });
    expect(config).toMatchObject({
      port: 3000,
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/interactions',
      redisUrl: 'redis://127.0.0.1:6379',
      queuePrefix: 'interactions',
      weights: DEFAULT_WEIGHTS,
    });
    expect(Object.isFrozen(config) && Object.isFrozen(config.jwt)).toBe(true);
  });

  test('requires JWT_SECRET in production, which is also the default environment', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/^JWT_SECRET is required/)]);
    expect(problemsOf({ NODE_ENV: 'production' })).toHaveLength(1);
    expect(loadConfig({ JWT_SECRET: 's3cret' }).jwt.secret).toBe('s3cret');
  });

  test('lists every bad variable at once', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      DATABASE_URL: 'mysql://x/y',
      REDIS_URL: 'nope',
      WORKER_CONCURRENCY: '0',
      SCORE_HALF_LIFE_DAYS: '0.01',
      SHUTDOWN_TIMEOUT_MS: '1500',
      ADMIN_USERNAME: 'ops',
    });
    expect(problems.map((p) => p.split(' ')[0])).toEqual(
      expect.arrayContaining([
        'PORT',
        'DATABASE_URL',
        'REDIS_URL',
        'WORKER_CONCURRENCY',
        'JWT_SECRET',
        'SCORE_EPOCH',
        'SHUTDOWN_TIMEOUT_MS',
        'ADMIN_USERNAME',
      ]),
    );
  });

  test('a Redis Cluster: host:port seed nodes, and a queue prefix with a hash tag', () => {
    const cluster = { NODE_ENV: 'test', REDIS_CLUSTER_NODES: '10.0.0.1:7000,redis-b.internal:7001' };
    expect(problemsOf(cluster).join()).toMatch(/QUEUE_PREFIX needs a hash tag/);
    expect(problemsOf({ ...cluster, REDIS_CLUSTER_NODES: 'redis://10.0.0.1' }).join()).toMatch(/REDIS_CLUSTER_NODES/);
    expect(loadConfig({ ...cluster, QUEUE_PREFIX: '{interactions}' }).redisClusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b.internal', port: 7001 },
    ]);
  });

  test("Redis Sentinel: nodes and the primary's name together, not with a cluster; replica acks only for one primary", () => {
    const sentinel = { NODE_ENV: 'test', REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2:26379', REDIS_SENTINEL_NAME: 'interactions' };
    expect(loadConfig({ ...sentinel, REDIS_MIN_REPLICAS_ACK: '1' })).toMatchObject({
      redisSentinel: {
        nodes: [
          { host: '10.0.0.1', port: 26379 },
          { host: '10.0.0.2', port: 26379 },
        ],
        name: 'interactions',
      },
      redisMinReplicasAck: 1,
    });
    expect(problemsOf({ ...sentinel, REDIS_SENTINEL_NAME: '' }).join()).toMatch(/REDIS_SENTINELS and REDIS_SENTINEL_NAME go together/);
    expect(problemsOf({ NODE_ENV: 'test', REDIS_CLUSTER_NODES: 'a:1', QUEUE_PREFIX: '{q}', REDIS_MIN_REPLICAS_ACK: '1' }).join()).toMatch(
      /REDIS_MIN_REPLICAS_ACK is for one primary/,
    );
    expect(loadConfig({ NODE_ENV: 'test' }).redisMinReplicasAck).toBe(0);
  });

  test('refuses an enqueue timeout that would break the two-second 503 promise', () => {
    expect(problemsOf({ NODE_ENV: 'test', ENQUEUE_TIMEOUT_MS: '5000' }).join()).toMatch(/ENQUEUE_TIMEOUT_MS/);
  });

  test('refuses a half-life so short, or an epoch so old, that decayed values would overflow', () => {
    expect(problemsOf({ NODE_ENV: 'test', SCORE_HALF_LIFE_DAYS: '0.1' }).join()).toMatch(/SCORE_EPOCH is \d+ half-lives from now/);
    expect(problemsOf({ NODE_ENV: 'test', SCORE_EPOCH: '1900-01-01T00:00:00Z' }).join()).toMatch(/set it to a recent date/);
    expect(problemsOf({ NODE_ENV: 'test', SCORE_HALF_LIFE_DAYS: '7' })).toEqual([]);
  });

  test('tokens need an expiry in production unless JWT_REQUIRE_EXP says otherwise', () => {
    expect(loadConfig({ JWT_SECRET: 's' }).jwt.requireExp).toBe(true);
    expect(loadConfig({ JWT_SECRET: 's', JWT_REQUIRE_EXP: 'false' }).jwt.requireExp).toBe(false);
    expect(loadConfig({ NODE_ENV: 'development' }).jwt.requireExp).toBe(false);
    expect(problemsOf({ NODE_ENV: 'test', JWT_REQUIRE_EXP: 'yes' }).join()).toMatch(/JWT_REQUIRE_EXP/);
  });

  test('treats an empty variable as unset', () => {
    expect(loadConfig({ NODE_ENV: 'test', PORT: '', JWT_ISSUER: '' })).toMatchObject({ port: 3000, jwt: { issuer: undefined } });
  });

  test("the API's heap grows 50 % past what is live by default; 0 leaves V8's factor; otherwise 10-300", () => {
    expect(loadConfig({ NODE_ENV: 'test' }).webHeapGrowthPercent).toBe(50);
    for (const good of [0, 10, 300]) {
      expect(loadConfig({ NODE_ENV: 'test', WEB_HEAP_GROWTH_PERCENT: String(good) }).webHeapGrowthPercent).toBe(good);
    }
    for (const bad of ['-1', '1', '9', '301', '1.5', '5000', 'half']) {
      expect(problemsOf({ NODE_ENV: 'test', WEB_HEAP_GROWTH_PERCENT: bad })).toEqual([expect.stringMatching(/^WEB_HEAP_GROWTH_PERCENT/)]);
    }
  });

  test('ACTION_WEIGHTS overrides some weights and keeps the rest', () => {
    const config = loadConfig({ NODE_ENV: 'test', ACTION_WEIGHTS: '{"VIEW": 0.5, "DISMISS": -20}' });
    expect(config.weights).toEqual({ ...DEFAULT_WEIGHTS, VIEW: 0.5, DISMISS: -20 });
  });

  test.each([
    ['not JSON', 'VIEW=1', /ACTION_WEIGHTS must be JSON/],
    ['an unknown action', '{"LIKE": 2}', /ACTION_WEIGHTS/],
    ['a positive DISMISS', '{"DISMISS": 3}', /DISMISS must be negative/],
    ['a negative SAVE', '{"SAVE": -1}', /SAVE must be positive/],
  ])('ACTION_WEIGHTS with %s is refused', (_name, value, message) => {
    expect(problemsOf({ NODE_ENV: 'test', ACTION_WEIGHTS: value }).join('\n')).toMatch(message);
  });
});

describe('docs/configuration.md', () => {
  test('is what the schema generates (npm run docs:config rewrites it)', () => {
    expect(withoutPadding(readFileSync(CONFIGURATION_DOC, 'utf8'))).toBe(withoutPadding(renderConfigurationDoc()));
  });

  test('gives each number the range start-up holds it to, a pipe and an exclusive bound included', () => {
    const ranges = new Map(describeVariables().map((v) => [v.name, v.range]));
    expect(ranges.get('ENQUEUE_TIMEOUT_MS')).toBe('1–1900');
    expect(ranges.get('SCORE_HALF_LIFE_DAYS')).toBe('> 0, ≤ 3650');
    expect(ranges.get('JOB_ATTEMPTS')).toBe('≥ 1');
    expect(ranges.get('WEB_HEAP_GROWTH_PERCENT')).toBeUndefined(); // a rule of its own, which its description states
    for (const [name, range] of ranges) {
      if (!range) continue;
      const [, low, high] = /^(?:≥ |> )?(-?[\d.]+)(?:–|, ≤ )?([\d.]+)?$/.exec(range) ?? [];
      const outside = [range.startsWith('>') ? Number(low) : Number(low) - 1, ...(high ? [Number(high) + 1] : [])];
      for (const value of outside) {
        expect({ name, value, refused: problemsOf({ NODE_ENV: 'test', [name]: String(value) }).some((p) => p.startsWith(name)) }).toEqual({
          name,
          value,
          refused: true,
        });
      }
    }
  });

  test('describes every variable, with a group and a meaning', () => {
    for (const variable of describeVariables()) {
      expect(variable.description.length).toBeGreaterThan(10);
      expect(Object.keys(CONFIG_GROUPS)).toContain(variable.group);
    }
  });
});
