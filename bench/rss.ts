// What /proc says of a child: peak resident memory per phase (sampled every 500 ms), CPU used.
import { readFileSync } from 'node:fs';

export class RssSampler {
  private readonly tracked = new Map<string, number>();
  /** phase → process name → peak VmRSS in MB */
  readonly peaks: Record<string, Record<string, number>> = {};
  private phase = 'setup';
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 500) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  setPhase(phase: string): void {
    this.sample();
    this.phase = phase;
    this.sample();
  }

  track(name: string, pid: number): void {
    this.tracked.set(name, pid);
    this.sample();
  }

  /** Takes a last sample, then forgets the process (call before stopping it). */
  untrack(name: string): void {
    this.sample();
    this.tracked.delete(name);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    for (const [name, pid] of this.tracked) {
      const mb = readRssMb(pid);
      if (mb === undefined) continue;
      const phase = (this.peaks[this.phase] ??= {});
      phase[name] = Math.max(phase[name] ?? 0, mb);
    }
  }
}

/** VmRSS of a process in MB, or undefined once it has exited. */
export function readRssMb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round((Number(match[1]) / 1024) * 10) / 10 : undefined;
  } catch {
    return undefined; // exited between two samples
  }
}

/** A process's /proc stat fields after its name: [state, ppid, ...]; undefined once it has exited. */
export function procStat(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU seconds a process has used so far (user + system; USER_HZ = 100); 0 once it has exited. */
export function cpuSeconds(pid: number | string): number {
  const fields = procStat(pid);
  return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : 0;
}
