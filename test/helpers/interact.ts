import { InteractionModel } from '../../src/data/models';
import type { Action } from '../../src/domain/weights';
import type { Stack } from './stack';
import { waitFor } from './wait';

/** Records interactions of a user through the API and the real worker; resolves once every row is persisted. */
export async function interactThroughApi(stack: Stack, userId: string, ...pairs: [string, Action][]): Promise<void> {
  const ids: string[] = [];
  for (const [eventId, action] of pairs) {
    const res = await stack.request('POST', '/interactions', { token: stack.token({ sub: userId }), body: { eventId, action } });
    expect(res.status).toBe(202);
    ids.push(res.body.id);
  }
  await waitFor(`${ids.length} rows`, async () => (await InteractionModel.query(stack.db).whereIn('id', ids)).length === ids.length);
}
