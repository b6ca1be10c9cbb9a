import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from './wait';

/**
 * Whether a Redis server on the port answers PING (a raw socket: an ioredis client would leave a
 * disconnect timer running after the test).
 */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

/** A port nothing listens on right now. */
export async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server on a spare port and a temp dir, for tests that break Redis on purpose;
 * the machine's shared Redis is never touched.
 */
export class TestRedis {
  private process?: ChildProcess;
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'test-redis-'));

  private constructor(
    readonly port: number,
    private readonly extraArgs: string[] = [],
    private readonly recordSyncs = false,
  ) {}

  /** `recordSyncs`: log what reached the disk, so that `powerCut` can be simulated (needs cc). */
  static async start(extraArgs: string[] = [], options: { recordSyncs?: boolean } = {}): Promise<TestRedis> {
    return TestRedis.startOn(await sparePort(), extraArgs, options);
  }

  static async startOn(port: number, extraArgs: string[] = [], options: { recordSyncs?: boolean } = {}): Promise<TestRedis> {
    const redis = new TestRedis(port, extraArgs, options.recordSyncs);
    await redis.restart();
    return redis;
  }

  private get syncLog(): string {
    return path.join(this.dir, 'syncs.log');
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    this.process = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.extraArgs],
      {
        stdio: 'ignore',
        // Its own process group, which the saves and rewrites it forks join: stop() ends them all.
        detached: true,
        env: this.recordSyncs ? { ...process.env, LD_PRELOAD: buildSyncLog(this.dir), SYNC_LOG: this.syncLog } : process.env,
      },
    );
    await waitFor('the test redis-server to answer', () => answersPing(this.port));
  }

  /** SIGSTOP / SIGCONT: a server that stalls (swapping, a long fork) and then carries on. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  /** SIGTERM: Redis writes what it holds (the AOF, fsynced) and exits, as in a planned restart. */
  shutdown(): Promise<void> {
    return this.endWith('SIGTERM');
  }

  /**
   * The machine loses power: the server dies, and of its append-only files only what an fsync
   * covered is left (each file is cut back to its size at its last fsync). Returns the bytes lost.
   */
  async powerCut(): Promise<number> {
    if (!this.recordSyncs) throw new Error('powerCut needs a server started with recordSyncs');
    await this.kill();
    const synced = new Map<string, number>();
    if (existsSync(this.syncLog)) {
      for (const line of readFileSync(this.syncLog, 'utf8').split('\n')) {
        const match = /^(\d+) (.+)$/.exec(line);
        if (match) synced.set(match[2]!, Number(match[1]));
      }
    }
    const aofDir = path.join(this.dir, 'appendonlydir');
    let lost = 0;
    for (const name of existsSync(aofDir) ? readdirSync(aofDir) : []) {
      if (!name.endsWith('.incr.aof')) continue; // base files and the manifest are fsynced before use
      const file = path.join(aofDir, name);
      const keep = synced.get(file) ?? 0;
      const size = statSync(file).size;
      if (size > keep) {
        truncateSync(file, keep);
        lost += size - keep;
      }
    }
    return lost;
  }

  /** SIGKILL: the server vanishes without a goodbye, as in a crash. */
  kill(): Promise<void> {
    return this.endWith('SIGKILL');
  }

  private async endWith(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill(signal);
    });
  }

  async stop(): Promise<void> {
    const group = this.process?.pid;
    await this.kill();
    // A background save or rewrite the server forked outlives it, still writing here, unless ended too.
    if (group !== undefined) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // nothing of the group is left
      }
    }
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** Builds test/helpers/native/sync-log.c into `dir` (once). */
function buildSyncLog(dir: string): string {
  const out = path.join(dir, 'sync-log.so');
  if (existsSync(out)) return out;
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', out, path.join(__dirname, 'native', 'sync-log.c'), '-ldl'], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`Simulating a power cut needs a C compiler (cc) to build test/helpers/native/sync-log.c: ${String(error)}`);
  }
  return out;
}
