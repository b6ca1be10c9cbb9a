import { randomBytes } from 'node:crypto';
import { canonicalJson, isSignedJob, signJob } from '../../src/jobs/signature';

const key = randomBytes(32);
const name = 'interaction.record-batch';
const payload = { interactions: [{ id: 'a', userId: 'u', eventId: 'e', action: 'VIEW', source: 'api', acceptedAt: 't' }] };
/** What a schema of this release outputs of a payload: the fields it knows, in its order. */
const asParsed = (data: { interactions: Record<string, unknown>[] }) => ({
  interactions: data.interactions.map(({ id, userId, eventId, action, source, acceptedAt }) => ({
    id,
    userId,
    eventId,
    action,
    source,
    acceptedAt,
  })),
});

describe('job signatures', () => {
  test('a job of a newer release, with a field this one does not know, verifies: its signature covers the payload as sent', () => {
    const newer = { interactions: [{ ...payload.interactions[0]!, seenOn: 'tablet' }] };
    const data = { ...newer, ...signJob(key, name, newer) };
    expect(isSignedJob(key, name, data, asParsed(newer))).toBe(true);
  });

  test('key order does not matter (the outbox stores payloads as jsonb), content does', () => {
    const data = { ...payload, ...signJob(key, name, payload) };
    const reordered = { sig2: data.sig2, interactions: [Object.fromEntries(Object.entries(payload.interactions[0]!).reverse())] };
    expect(isSignedJob(key, name, reordered, asParsed(payload))).toBe(true);
    const tampered = { ...data, interactions: [{ ...payload.interactions[0]!, action: 'DISMISS' }] };
    expect(isSignedJob(key, name, tampered, asParsed(tampered))).toBe(false);
    expect(isSignedJob(randomBytes(32), name, data, asParsed(payload))).toBe(false);
    expect(isSignedJob(key, 'model.rebuild', data, asParsed(payload))).toBe(false);
  });

  test('a job of the release before, with `sig` alone, verifies over the payload as the schema outputs it', () => {
    const { sig } = signJob(key, name, payload);
    expect(isSignedJob(key, name, { ...payload, sig }, asParsed(payload))).toBe(true);
    expect(isSignedJob(key, name, { ...payload }, asParsed(payload))).toBe(false);
  });

  test('canonical JSON sorts keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }, 3], a: null, u: undefined })).toBe('{"a":null,"b":[{"c":2,"d":1},3]}');
  });
});
