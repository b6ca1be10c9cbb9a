import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Jobs carry an HMAC of their name and payload, made by the one producer with a key only the
 * service's processes hold: the worker refuses a job it cannot verify, so nothing that can write to
 * the queue (the dashboard, a script with the Redis password) can record an interaction the
 * service did not accept. The payload is signed as its schema outputs it, so key order (which
 * PostgreSQL's jsonb does not keep for the outbox) does not matter.
 */
export function signJob(key: Buffer, name: string, payload: unknown): string {
  return createHmac('sha256', key).update(name).update('\n').update(JSON.stringify(payload)).digest('base64url');
}

/** Whether `signature` is this key's signature of the (schema-parsed) payload. */
export function isSignedJob(key: Buffer, name: string, payload: unknown, signature: unknown): boolean {
  if (typeof signature !== 'string') return false;
  const expected = Buffer.from(signJob(key, name, payload));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
