import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Jobs carry an HMAC of their name and payload, made by the one producer with a key only the
 * service's processes hold: the worker refuses a job it cannot verify, so nothing that can write to
 * the queue (the dashboard, a script with the Redis password) can record an interaction the
 * service did not accept.
 *
 * `sig2` signs the payload as sent, every field of it, in a spelling that does not depend on key
 * order (which PostgreSQL's jsonb does not keep for the outbox): a worker of an older release, whose
 * schema drops a field a newer release added, still verifies the job, and records what it knows of
 * it. `sig` is the earlier signature, of the payload as the schema outputs it, which the workers of
 * the release before `sig2` check: a later release may stop sending it.
 */
export function signJob(key: Buffer, name: string, payload: object): { sig: string; sig2: string } {
  return { sig: hmac(key, name, JSON.stringify(payload)), sig2: hmac(key, name, canonicalJson(payload)) };
}

/**
 * Whether the job data (a payload with its signatures) was signed by this key: by `sig2` when it
 * has one, over the payload as sent; else by `sig`, over `parsed`, the payload as the schema outputs it.
 */
export function isSignedJob(key: Buffer, name: string, data: Record<string, unknown>, parsed: unknown): boolean {
  const { sig, sig2, ...payload } = data;
  if (sig2 !== undefined) return same(sig2, hmac(key, name, canonicalJson(payload)));
  return same(sig, hmac(key, name, JSON.stringify(parsed)));
}

const hmac = (key: Buffer, name: string, text: string) =>
  createHmac('sha256', key).update(name).update('\n').update(text).digest('base64url');

function same(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const [a, b] = [Buffer.from(given), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/** JSON with every object's keys in sorted order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
