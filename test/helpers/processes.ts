import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');

export interface RunningProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Its JSON log lines (stdout) written in full so far: pino writes asynchronously, so the last may be partial. */
  logLines(): Record<string, unknown>[];
}

/** Runs one of the service's entry points (src/server.ts, workers/index.ts) as its own process. */
export function runEntry(entry: string, env: NodeJS.ProcessEnv): RunningProcess {
  // One process (no tsx wrapper in between), so that signals reach the service itself.
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(root, entry)], {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const logLines = () =>
    stdout
      .split('\n')
      .slice(0, -1)
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { child, exited, output: () => output, logLines };
}
