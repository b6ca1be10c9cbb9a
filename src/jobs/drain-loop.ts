/**
 * Runs `step` until it reports nothing left, now and then every `intervalMs`, and at once when
 * kicked (after a commit that left work for it); kicks while it runs coalesce into one more round.
 * A failing step is reported to `onFailure` and retried at the next round: what it left stays for it.
 */
export class DrainLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;

  constructor(
    /** One batch of work; returns how much it did (0: nothing left). */
    private readonly step: () => Promise<number>,
    private readonly options: { intervalMs: number; onFailure: (error: unknown) => void },
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
      while ((await this.step()) > 0 && !this.stopped);
    } catch (error) {
      this.options.onFailure(error);
    }
  }
}
