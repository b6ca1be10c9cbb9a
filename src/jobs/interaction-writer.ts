import type { RecordInteractionPayload } from './definitions';

type Persist = (payloads: RecordInteractionPayload[]) => Promise<Set<string>>;

export interface WriteResult {
  inserted: number;
  duplicates: number;
}

interface Part {
  payloads: RecordInteractionPayload[];
  settle(error: unknown, result?: WriteResult): void;
}

/** Most interactions one transaction takes. */
const MAX_PER_TRANSACTION = 1000;

/**
 * Turns the jobs a worker has in hand into few, large transactions. Users are split over `lanes`
 * lanes by a hash of their id; each lane runs one transaction at a time, taking everything that
 * arrived while the previous one ran. Lanes never share a user, so their transactions never wait
 * on each other's user locks and PostgreSQL can work on them in parallel.
 * A job's promise settles once every lane holding a part of it has committed (or failed: the job
 * is then retried whole, and the parts already committed are no-ops the second time).
 */
export class InteractionWriter {
  private readonly queues: Part[][];
  private readonly busy: boolean[];

  constructor(
    private readonly persist: Persist,
    lanes: number,
  ) {
    this.queues = Array.from({ length: lanes }, () => []);
    this.busy = this.queues.map(() => false);
  }

  write(payloads: RecordInteractionPayload[]): Promise<WriteResult> {
    const byLane = new Map<number, RecordInteractionPayload[]>();
    for (const payload of payloads) {
      const lane = laneOf(payload.userId, this.queues.length);
      const laneload = byLane.get(lane) ?? [];
      laneload.push(payload);
      byLane.set(lane, laneload);
    }
    const parts = [...byLane].map(
      ([lane, laneload]) =>
        new Promise<WriteResult>((resolve, reject) => {
          this.queues[lane]!.push({ payloads: laneload, settle: (error, result) => (error ? reject(error) : resolve(result!)) });
          void this.drain(lane);
        }),
    );
    return Promise.all(parts).then((results) =>
      results.reduce((sum, r) => ({ inserted: sum.inserted + r.inserted, duplicates: sum.duplicates + r.duplicates })),
    );
  }

  private async drain(lane: number): Promise<void> {
    if (this.busy[lane]) return;
    this.busy[lane] = true;
    const queue = this.queues[lane]!;
    while (queue.length > 0) {
      const taken: Part[] = [];
      let size = 0;
      while (queue.length > 0 && (taken.length === 0 || size + queue[0]!.payloads.length <= MAX_PER_TRANSACTION)) {
        const part = queue.shift()!;
        taken.push(part);
        size += part.payloads.length;
      }
      await this.commit(taken);
    }
    this.busy[lane] = false;
  }

  private async commit(parts: Part[]): Promise<void> {
    try {
      const inserted = await this.persist(parts.flatMap((p) => p.payloads));
      for (const part of parts) part.settle(undefined, counts(part.payloads, inserted));
    } catch (error) {
      if (parts.length === 1) return parts[0]!.settle(error);
      // One job's bad row must not fail the jobs it shared a transaction with: each on its own.
      for (const part of parts) {
        await this.persist(part.payloads).then((inserted) => part.settle(undefined, counts(part.payloads, inserted)), part.settle);
      }
    }
  }
}

export function counts(payloads: RecordInteractionPayload[], insertedIds: Set<string>): WriteResult {
  const inserted = payloads.filter((p) => insertedIds.has(p.id)).length;
  return { inserted, duplicates: payloads.length - inserted };
}

/** FNV-1a: cheap, stable across processes and restarts. */
function laneOf(userId: string, lanes: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i += 1) hash = Math.imul(hash ^ userId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}
