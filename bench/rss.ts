// Peak resident memory of each child, per phase, read from /proc every 500 ms.
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
