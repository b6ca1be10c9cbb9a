// Child processes: the service's real entry points from dist/, the bench's own servers, and scripts.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { onCleanup } from './cleanup';

export const ROOT = path.join(__dirname, '..');
export const LOG_DIR = path.join(__dirname, 'results', 'logs');

const ENTRIES = ['src/server.js', 'workers/index.js', 'scripts/release.js', 'scripts/rebuild-scores.js'];
let buildDir = 'dist';

/** An entry point of the build, relative to ROOT: `build('src/server.js')`. */
export function build(entry: string): string {
  return path.join(buildDir, entry);
}

/**
 * Runs the build from a private copy of dist/, taken once it is complete: `npm run build` starts
 * with `rm -rf dist`, and a colleague's build during the run must not pull the entry points away.
 * The copy sits inside the repository so that node_modules resolves as it does for dist/.
 */
export async function snapshotBuild(): Promise<string> {
  const deadline = Date.now() + 180_000;
  const complete = () => ENTRIES.every((entry) => existsSync(path.join(ROOT, 'dist', entry)));
  // Twice, a second apart: a build that is writing its output is not copied half-way.
  while (!complete() || !(await sleep(1000).then(complete))) {
    if (Date.now() > deadline) throw new Error('dist/ is incomplete: run npm run build');
    await sleep(2000);
  }
  const copy = path.join('bench', `.dist-${process.pid}`);
  cpSync(path.join(ROOT, 'dist'), path.join(ROOT, copy), { recursive: true });
  onCleanup('remove the build copy', async () => rmSync(path.join(ROOT, copy), { recursive: true, force: true }));
  buildDir = copy;
  return copy;
}

export interface Child {
  name: string;
  child: ChildProcess;
  pid: number;
  startedAt: number;
  exited: Promise<number | null>;
  /** The last lines it printed, for error messages. */
  tail(): string;
  stop(): Promise<void>;
}

let counter = 0;

/** `env` with the run's NODE_OPTIONS, for the processes being measured (not for scripts such as the rebuild). */
export function measuredEnv(settings: { nodeOptions: string }, env: Record<string, string>): Record<string, string> {
  return settings.nodeOptions ? { ...env, NODE_OPTIONS: settings.nodeOptions } : env;
}

/**
 * Starts `node <args>` directly (no shell or npm in between), so that signals reach the process
 * itself and /proc/<pid> is the process being measured.
 */
export function startNode(name: string, args: string[], env: Record<string, string>): Child {
  mkdirSync(LOG_DIR, { recursive: true });
  counter += 1;
  const log = createWriteStream(path.join(LOG_DIR, `${String(counter).padStart(2, '0')}-${name}.log`));
  // BENCH_CPU_PROFILE_DIR: every process started here writes a V8 CPU profile there when it exits
  // (`node --cpu-prof`; NODE_OPTIONS may not carry it).
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
  if (profileDir) args = ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.${counter}.cpuprofile`, ...args];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  void exited.then(() => log.end());
  const running: Child = {
    name,
    child,
    pid: child.pid ?? -1,
    startedAt: performance.now(),
    exited,
    tail: () => tail,
    stop: () => stopChild(running),
  };
  onCleanup(`stop ${name}`, () => stopChild(running));
  return running;
}

/** SIGTERM (the service drains and exits), SIGKILL if it is still there after `graceMs`. */
export async function stopChild(running: Child, graceMs = 30_000): Promise<void> {
  const { child } = running;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await running.exited;
  clearTimeout(timer);
}

/** Polls `url` until it answers 200; fails early, with the child's output, if the child exits. */
export async function waitReady(url: string, running: Child, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void running.exited.then(() => (gone = true));
  for (;;) {
    if (gone) throw new Error(`${running.name} exited before it was ready:\n${running.tail()}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ok) return performance.now();
    if (Date.now() > deadline) throw new Error(`${running.name} not ready at ${url} after ${timeoutMs} ms:\n${running.tail()}`);
    await sleep(50);
  }
}

export interface ScriptResult {
  code: number | null;
  seconds: number;
  timedOut: boolean;
  output: string;
}

/** Runs a one-shot node script to its end, or stops it after `timeoutMs`. */
export async function runNodeScript(name: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<ScriptResult> {
  const started = performance.now();
  const running = startNode(name, args, env);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void stopChild(running, 5000);
  }, timeoutMs);
  const code = await running.exited;
  clearTimeout(timer);
  return { code, seconds: (performance.now() - started) / 1000, timedOut, output: running.tail() };
}

export { sparePort } from '../test/helpers/redis-server';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
