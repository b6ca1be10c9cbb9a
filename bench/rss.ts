// What /proc says of a child: peak resident memory per phase (sampled every 500 ms), CPU used.
import { readdirSync, readFileSync } from 'node:fs';

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

/**
 * CPU seconds of every process named `command` (`postgres`, `redis-server`): the live ones, and the
 * children they have reaped (a postmaster accounts for its exited backends), so that the figure
 * never goes backwards while a server runs.
 */
export function commandCpuSeconds(command: string): number {
  const found = new Map<string, string[]>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== command) continue;
    } catch {
      continue; // exited meanwhile
    }
    const fields = procStat(pid);
    if (fields) found.set(pid, fields);
  }
  let total = 0;
  for (const fields of found.values()) {
    total += (Number(fields[11]) + Number(fields[12])) / 100;
    if (!found.has(fields[1]!)) total += (Number(fields[13]) + Number(fields[14])) / 100; // the server's parent process
  }
  return total;
}

/** CPU seconds the whole machine has been busy (every core, the kernel's own threads included). */
export function machineBusySeconds(): number {
  // Time the hypervisor gave to other machines (steal) is not this machine's work.
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user! + nice! + system! + irq! + softirq!) / 100;
}

export interface CpuSnapshot {
  machine: number;
  postgres: number;
  worker: number;
  redis: number;
}

export function cpuSnapshot(workerPid: number): CpuSnapshot {
  return {
    machine: machineBusySeconds(),
    postgres: commandCpuSeconds('postgres'),
    worker: cpuSeconds(workerPid),
    redis: commandCpuSeconds('redis-server'),
  };
}
