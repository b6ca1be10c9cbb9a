import type { Logger } from './logger';

/**
 * Logs an outage of a dependency by its changes of state, not by its failures: one line when it
 * starts, one a minute while it lasts, and one when it ends, each with how many requests it failed
 * (a Redis outage under load would otherwise write thousands of lines with stacks a second). Without
 * a word of recovery, a failure after a quiet minute counts as a new outage.
 */
export class OutageLog {
  private down?: { since: number; failures: number; lastLine: number; lastFailure: number };

  constructor(
    private readonly logger: Pick<Logger, 'warn' | 'info'>,
    private readonly what: string,
    private readonly everyMs = 60_000,
  ) {}

  /** `count`: how many requests (or items) this failure refused. */
  failed(error: unknown, count = 1): void {
    const now = Date.now();
    if (this.down && now - this.down.lastFailure >= this.everyMs) this.recovered();
    if (!this.down) {
      this.down = { since: now, failures: count, lastLine: now, lastFailure: now };
      this.logger.warn({ err: messageOf(error) }, `${this.what}: outage began`);
      return;
    }
    this.down.failures += count;
    this.down.lastFailure = now;
    if (now - this.down.lastLine >= this.everyMs) {
      this.down.lastLine = now;
      this.logger.warn(
        { err: messageOf(error), failures: this.down.failures, forMs: now - this.down.since },
        `${this.what}: outage goes on`,
      );
    }
  }

  recovered(): void {
    if (!this.down) return;
    const { since, failures, lastFailure } = this.down;
    this.down = undefined;
    this.logger.info({ failures, forMs: lastFailure - since }, `${this.what}: outage over`);
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
