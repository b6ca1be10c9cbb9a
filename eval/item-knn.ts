import { POSITIVE_ACTIONS } from '../src/domain/model';
import type { EvalInteraction } from './data';

/**
 * Item-kNN, the batch baseline: cosine similarity of events over the users who were positive about
 * them (binary), fitted on `training`; a user's score for an event is the sum of its similarities
 * to the events they were positive about. Computed per user without building the item-item matrix:
 * score(c) = n(c)^-½ · Σ_v a(v)·[c ∈ I(v)], where a(v) = Σ_{j ∈ I(u) ∩ I(v)} n(j)^-½.
 */
export function itemKnnScorer(training: EvalInteraction[]): ((userId: string) => Map<string, number>) & {
  /** Events the user touched in the training data (excluded from their ranking). */
  trainingEvents(userId: string): Set<string>;
  /** The cosine similarity of every event to this one: the item-to-item baseline. */
  similarTo(eventId: string): Map<string, number>;
} {
  const eventIndex = new Map<string, number>();
  const eventNames: string[] = [];
  const userIndex = new Map<string, number>();
  const positives: Set<number>[] = []; // by user
  const touched = new Map<string, Set<string>>();
  const intern = (map: Map<string, number>, key: string, onNew: () => void) => {
    let id = map.get(key);
    if (id === undefined) {
      id = map.size;
      map.set(key, id);
      onNew();
    }
    return id;
  };
  for (const { userId, eventId, action } of training) {
    const mine = touched.get(userId) ?? new Set<string>();
    mine.add(eventId);
    touched.set(userId, mine);
    if (!POSITIVE_ACTIONS.includes(action)) continue;
    const u = intern(userIndex, userId, () => positives.push(new Set()));
    const e = intern(eventIndex, eventId, () => eventNames.push(eventId));
    positives[u]!.add(e);
  }
  const usersOf: number[][] = eventNames.map(() => []);
  positives.forEach((events, u) => events.forEach((e) => usersOf[e]!.push(u)));
  const inverseRoot = usersOf.map((users) => (users.length ? 1 / Math.sqrt(users.length) : 0));

  const scorer = (userId: string) => {
    const scores = new Map<string, number>();
    const u = userIndex.get(userId);
    if (u === undefined) return scores;
    const a = new Float64Array(positives.length);
    for (const j of positives[u]!) for (const v of usersOf[j]!) a[v]! += inverseRoot[j]!;
    const sums = new Float64Array(eventNames.length);
    a.forEach((weight, v) => {
      if (weight > 0) for (const c of positives[v]!) sums[c]! += weight;
    });
    sums.forEach((sum, c) => {
      if (sum > 0) scores.set(eventNames[c]!, sum * inverseRoot[c]!);
    });
    return scores;
  };
  const similarTo = (eventId: string) => {
    const scores = new Map<string, number>();
    const x = eventIndex.get(eventId);
    if (x === undefined) return scores;
    const shared = new Map<number, number>();
    for (const v of usersOf[x]!) for (const c of positives[v]!) shared.set(c, (shared.get(c) ?? 0) + 1);
    for (const [c, n] of shared) if (c !== x) scores.set(eventNames[c]!, n * inverseRoot[c]! * inverseRoot[x]!);
    return scores;
  };
  return Object.assign(scorer, { trainingEvents: (userId: string) => touched.get(userId) ?? new Set<string>(), similarTo });
}
