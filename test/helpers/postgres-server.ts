import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { sparePort } from './redis-server';

/** The newest PostgreSQL server binaries on the machine (Debian keeps them per major version). */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = readdirSync(root)
    .map(Number)
    .filter(Number.isFinite)
    .sort((a, b) => b - a);
  if (versions.length === 0) throw new Error(`No PostgreSQL server binaries under ${root}`);
  return path.join(root, String(versions[0]), 'bin');
}

/**
 * A private PostgreSQL cluster (initdb in a temp dir, a spare port) for tests that stop the
 * database on purpose; the machine's shared cluster is never touched. PostgreSQL refuses to run as
 * root, so as root the cluster belongs to the `postgres` user.
 */
export class TestPostgres {
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'test-postgres-'));
  private readonly bin = binDir();
  private readonly owner =
    userInfo().uid === 0
      ? { uid: Number(execFileSync('id', ['-u', 'postgres'])), gid: Number(execFileSync('id', ['-g', 'postgres'])) }
      : undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<TestPostgres> {
    const pg = new TestPostgres(await sparePort());
    if (pg.owner) chownSync(pg.dir, pg.owner.uid, pg.owner.gid);
    await pg.run('initdb', ['-D', pg.data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await pg.startServer();
    return pg;
  }

  /**
   * A streaming replica of this cluster on a spare port of its own (pg_basebackup -R): initdb's
   * defaults (wal_level replica, replication trusted from 127.0.0.1) are all the primary needs.
   */
  async startReplica(): Promise<TestPostgres> {
    const replica = new TestPostgres(await sparePort());
    if (replica.owner) chownSync(replica.dir, replica.owner.uid, replica.owner.gid);
    await replica.run('pg_basebackup', [
      '-D',
      replica.data,
      '-h',
      '127.0.0.1',
      '-p',
      String(this.port),
      '-U',
      'postgres',
      '-R',
      '--no-sync',
    ]);
    await replica.startServer();
    return replica;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private get data(): string {
    return path.join(this.dir, 'data');
  }

  private async run(tool: string, args: string[]): Promise<void> {
    await promisify(execFile)(path.join(this.bin, tool), args, { uid: this.owner?.uid, gid: this.owner?.gid, cwd: this.dir });
  }

  /** Starts the server and waits until it accepts connections. */
  async startServer(): Promise<void> {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off -c max_connections=100`;
    await this.run('pg_ctl', ['-D', this.data, '-o', options, '-l', path.join(this.dir, 'log'), '-w', 'start']);
  }

  /** A fast shutdown: sessions are cut, in-flight transactions roll back, nothing answers. */
  async stopServer(): Promise<void> {
    await this.run('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', 'stop']);
  }

  /**
   * SIGSTOP / SIGCONT to the server and its backends: a server that stalls (a frozen VM, a network
   * path that drops packets) and then carries on. Connections are neither refused nor closed.
   */
  pause(): void {
    this.signalAll('SIGSTOP');
  }

  resume(): void {
    this.signalAll('SIGCONT');
  }

  private signalAll(signal: NodeJS.Signals): void {
    const postmaster = Number(readFileSync(path.join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const backends = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], { encoding: 'utf8' })
      .split(/\s+/)
      .filter(Boolean);
    for (const pid of [postmaster, ...backends.map(Number)]) process.kill(pid, signal);
  }

  async destroy(): Promise<void> {
    await this.run('pg_ctl', ['-D', this.data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined); // may be stopped already
    rmSync(this.dir, { recursive: true, force: true });
  }
}
