import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Jobs carry an HMAC of their name and payload, made by the one producer with a key only the
 * service's processes hold: the worker refuses a job it cannot verify, so nothing that can write to
 * the queue (the dashboard, a script with the Redis password) can record an interaction the
 * service did not accept. The producer signs the payload as its schema outputs it, which is what it
 * sends (the outbox's relay signs when it sends, so the key order jsonb does not keep is not signed).
 */
export function signJob(key: Buffer, name: string, payload: unknown): string {
  return createHmac('sha256', key).update(name).update('\n').update(JSON.stringify(payload)).digest('base64url');
}

/**
 * Whether the job data (a payload and its `sig`) was signed by this key: over the payload as sent,
 * every field of it, so that a worker of an older release verifies a newer release's job whose
 * fields its schema drops (and records what it knows of it); or over `parsed`, the payload as this
 * schema outputs it, as workers of the release before checked.
 */
export function isSignedJob(key: Buffer, name: string, data: Record<string, unknown>, parsed: unknown): boolean {
  const { sig, ...sent } = data;
  return same(sig, signJob(key, name, sent)) || same(sig, signJob(key, name, parsed));
}

function same(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const [a, b] = [Buffer.from(given), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}
