import type { Job, Queue } from 'bullmq';

/** Polls `probe` until it returns something truthy, or fails after the deadline with `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The job that carries this interaction: one of its own (outbox) or a group-committed batch. */
export async function jobCarrying(queue: Queue, interactionId: string): Promise<Job | undefined> {
  const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'], 0, -1);
  return jobs.find(
    (job) =>
      job.id === interactionId || (job.data as { interactions?: { id: string }[] }).interactions?.some((i) => i.id === interactionId),
  );
}
