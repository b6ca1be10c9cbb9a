import { randomBytes } from 'node:crypto';
import { isSignedJob, signJob } from '../../src/jobs/signature';

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
    const data = { ...newer, sig: signJob(key, name, newer) };
    expect(isSignedJob(key, name, data, asParsed(newer))).toBe(true);
  });

  test('a payload in another key order verifies over the schema’s output; altered content, another key or another job name does not', () => {
    const sig = signJob(key, name, payload);
    const reordered = { sig, interactions: [Object.fromEntries(Object.entries(payload.interactions[0]!).reverse())] };
    expect(isSignedJob(key, name, reordered, asParsed(payload))).toBe(true);
    const tampered = { ...payload, sig, interactions: [{ ...payload.interactions[0]!, action: 'DISMISS' }] };
    expect(isSignedJob(key, name, tampered, asParsed(tampered))).toBe(false);
    expect(isSignedJob(randomBytes(32), name, { ...payload, sig }, asParsed(payload))).toBe(false);
    expect(isSignedJob(key, 'model.rebuild', { ...payload, sig }, asParsed(payload))).toBe(false);
    expect(isSignedJob(key, name, { ...payload }, asParsed(payload))).toBe(false);
  });
});
