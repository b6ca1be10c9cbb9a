// One deployment of the real service for a phase: its database and queue prefix, and the web and
// worker processes from dist/, started and stopped as the phase needs them.
import type { Context } from './context';
import { createDeployment, dropDeployment, QueueProbe, REDIS_URL, type Deployment } from './infra';
import { build, measuredEnv, sparePort, startNode, waitReady, type Child } from './processes';
import { rebuildModel, seedEvents } from './seed';
import { JWT_SECRET } from './workload';

export class Stack {
  web?: Child;
  worker?: Child;
  readonly queue: QueueProbe;

  private constructor(
    private readonly ctx: Context,
    readonly deployment: Deployment,
    readonly eventIds: string[],
    private readonly webPort: number,
    private readonly workerPort: number,
    private readonly extraEnv: Record<string, string> = {},
  ) {
    this.queue = new QueueProbe(deployment.queuePrefix);
  }

  /** A migrated database with `events` upcoming events, and (for now) no process running; `env` adds to the service's. */
  static async create(ctx: Context, label: string, events: number, env: Record<string, string> = {}): Promise<Stack> {
    const deployment = await createDeployment(label, baseEnv());
    const stack = new Stack(ctx, deployment, [], await sparePort(), await sparePort(), env);
    // A worker finding no record of the model's settings queues a full rebuild that interaction
    // jobs wait for; building the (empty) model now records them, as a deployed database has.
    const built = await rebuildModel(stack.env(), 120);
    if (!built.completed) throw new Error(`rebuild of the empty model failed: ${built.message}`);
    stack.eventIds.push(...(events > 0 ? await seedEvents(deployment.pool, events) : []));
    return stack;
  }

  get baseUrl(): URL {
    return new URL(`http://127.0.0.1:${this.webPort}`);
  }

  get pool() {
    return this.deployment.pool;
  }

  env(): Record<string, string> {
    return {
      ...baseEnv(),
      PORT: String(this.webPort),
      WORKER_PORT: String(this.workerPort),
      DATABASE_URL: this.deployment.databaseUrl,
      QUEUE_PREFIX: this.deployment.queuePrefix,
      ...this.extraEnv,
    };
  }

  async startWeb(env: Record<string, string> = {}): Promise<void> {
    if (this.web) return;
    this.web = startNode('web', [build('src/server.js')], measuredEnv(this.ctx.settings, { ...this.env(), ...env }));
    this.ctx.rss.track('web', this.web.pid);
    await waitReady(`${this.baseUrl.origin}/readyz`, this.web);
  }

  /** Starts the worker; `ready` resolves (with performance.now()) when its /readyz answers 200. */
  startWorker(): { spawnedAt: number; ready: Promise<number> } {
    if (this.worker) throw new Error('the worker is already running');
    const worker = startNode('worker', [build('workers/index.js')], measuredEnv(this.ctx.settings, this.env()));
    this.worker = worker;
    this.ctx.rss.track('worker', worker.pid);
    const ready = waitReady(`http://127.0.0.1:${this.workerPort}/readyz`, worker);
    // Callers that only time rows may never await it; its failure shows as a worker that exited.
    ready.catch(() => undefined);
    return { spawnedAt: worker.startedAt, ready };
  }

  async stopWorker(): Promise<void> {
    if (!this.worker) return;
    this.ctx.rss.untrack('worker');
    await this.worker.stop();
    this.worker = undefined;
  }

  /** The web process again, with `env` added to the deployment's. */
  async restartWeb(env: Record<string, string>): Promise<void> {
    await this.stopWeb();
    await this.startWeb(env);
  }

  async stopWeb(): Promise<void> {
    if (!this.web) return;
    this.ctx.rss.untrack('web');
    await this.web.stop();
    this.web = undefined;
  }

  /** Stops both processes and drops the database and queue keys. */
  async destroy(): Promise<void> {
    await this.stopWorker();
    await this.stopWeb();
    await this.queue.close().catch(() => undefined);
    await dropDeployment(this.deployment);
  }
}

/** The service's configuration common to every deployment: only variables docs/configuration.md documents. */
export function baseEnv(): Record<string, string> {
  return {
    NODE_ENV: 'production',
    REDIS_URL,
    JWT_SECRET,
    // At info the API writes a line per request; a loaded production service logs at warn.
    LOG_LEVEL: 'warn',
  };
}
