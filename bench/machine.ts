// What a run was measured on: the machine, and the service's commit.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { PG_BASE, REDIS_URL } from './infra';
import { ROOT } from './processes';
import type { Machine } from './results';

export async function machine(): Promise<Machine> {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const pg = new Client({ connectionString: `${PG_BASE}/postgres` });
  await pg.connect();
  const postgres = (await pg.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]!.v;
  await pg.end();
  const redis = new Redis(REDIS_URL);
  const info = await redis.info('server');
  redis.disconnect();
  return {
    cpu,
    cores: os.cpus().length,
    memoryGb: os.totalmem() / 2 ** 30,
    node: process.version,
    postgres: `PostgreSQL ${postgres}`,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    os: `${os.type()} ${os.release()}`,
    loadAverageAtStart: os.loadavg(),
  };
}

/** Which service code was measured: the build is of the working tree, which may be ahead of HEAD. */
export function serviceVersion(): { commit: string; uncommittedFiles: number } {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    const changed = git('status', '--porcelain', '--', 'src', 'workers', 'migrations', 'scripts');
    return { commit: git('rev-parse', 'HEAD').trim(), uncommittedFiles: changed.split('\n').filter(Boolean).length };
  } catch {
    return { commit: 'unknown', uncommittedFiles: 0 };
  }
}
