/**
 * Runs `step` until it reports nothing left, now and then every `intervalMs`, and when kicked (after
 * a commit that left work for it); kicks while it runs coalesce into one more round. With `gapMs`,
 * rounds start at least that far apart, so that work arriving steadily is taken in few large steps
 * rather than many small ones; with `fullStep`, a round ends at a step smaller than that (it caught
 * up) instead of running another step for what arrived meanwhile.
 * A failing step is reported to `onFailure` and retried at the next round: what it left stays for it;
 * a round that then ends without failing is reported to `onSuccess` (an OutageLog takes both).
 */
export class DrainLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  private lastRoundAt = -Infinity;

  constructor(
    /** One batch of work; returns how much it did (0: nothing left). */
    private readonly step: () => Promise<number>,
    private readonly options: {
      intervalMs: number;
      gapMs?: number;
      fullStep?: number;
      onFailure: (error: unknown) => void;
      onSuccess?: () => void;
    },
  ) {}

  start(): void {
    this.stopped = false;
    this.kick();
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    const wait = this.lastRoundAt + (this.options.gapMs ?? 0) - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => this.kick(), wait);
      return;
    }
    this.lastRoundAt = performance.now();
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.kick();
      } else {
        this.timer = setTimeout(() => this.kick(), this.options.intervalMs);
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async drain(): Promise<void> {
    try {
      const full = this.options.fullStep ?? 1;
      while ((await this.step()) >= full && !this.stopped);
      this.options.onSuccess?.();
    } catch (error) {
      this.options.onFailure(error);
    }
  }
}
