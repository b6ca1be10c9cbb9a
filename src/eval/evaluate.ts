import { applyInteraction, featuresOf, type EventFeatures, type ModelSettings } from '../domain/model';
import { FEED_LIMITS, rankCandidates, type Candidate } from '../domain/ranking';
import { ACTIONS, type Action } from '../domain/weights';
import { parseCsv, parseTimestamp } from './csv';
import { MemoryModelStore } from './memory-store';

export interface EvalInteraction {
  userId: string;
  eventId: string;
  action: Action;
  at: Date;
}

export interface EvalData {
  interactions: EvalInteraction[];
  events: Map<string, EventFeatures>;
  /** Lines that could not be read, with why. */
  skipped: string[];
}

/** Reads the two CSV files: `user_id,event_id,action,timestamp` and `event_id,category,tags,city`. */
export function parseEvalData(interactionsCsv: string, eventsCsv: string): EvalData {
  const skipped: string[] = [];
  const events = new Map<string, EventFeatures>();
  for (const { values } of parseCsv(eventsCsv, ['event_id', 'category', 'tags', 'city'])) {
    const tags = values
      .tags!.split('|')
      .map((t) => t.trim())
      .filter(Boolean);
    events.set(values.event_id!, { category: values.category || null, tags, city: values.city || null, organizerId: '', kind: '' });
  }
  const interactions: EvalInteraction[] = [];
  for (const { line, values } of parseCsv(interactionsCsv, ['user_id', 'event_id', 'action', 'timestamp'])) {
    const action = values.action!.toUpperCase() as Action;
    const at = parseTimestamp(values.timestamp!);
    if (!values.user_id || !values.event_id) skipped.push(`interactions line ${line}: no user or event`);
    else if (!ACTIONS.includes(action)) skipped.push(`interactions line ${line}: unknown action "${values.action}"`);
    else if (!at) skipped.push(`interactions line ${line}: unreadable timestamp "${values.timestamp}"`);
    else interactions.push({ userId: values.user_id, eventId: values.event_id, action, at });
  }
  return { interactions, events, skipped };
}

export interface EvalResult {
  users: number;
  skippedUsers: number;
  k: number;
  negatives: number;
  models: { name: 'popularity' | 'full'; hitRate: number; ndcg: number }[];
}

/** A small seeded generator (mulberry32), so negatives are sampled the same way every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Leave-last-out evaluation: each user's last positive interaction (anything but DISMISS) is held
 * out; the model is trained on everything else through the workers' own `applyInteraction`; then
 * the held-out event is ranked with `rankCandidates` among `negatives` events the user never
 * touched. Reports HR@k and NDCG@k for popularity alone and for the full model.
 */
export async function evaluate(
  data: EvalData,
  settings: ModelSettings,
  options: { negatives?: number; k?: number; seed?: number } = {},
): Promise<EvalResult> {
  const { negatives = 100, k = 10, seed = 42 } = options;
  const ordered = data.interactions
    .map((interaction, index) => ({ interaction, index }))
    .sort((a, b) => a.interaction.at.getTime() - b.interaction.at.getTime() || a.index - b.index);

  const heldOut = new Map<string, EvalInteraction>();
  const counts = new Map<string, number>();
  for (const { interaction } of ordered) {
    counts.set(interaction.userId, (counts.get(interaction.userId) ?? 0) + 1);
    if (interaction.action !== 'DISMISS') heldOut.set(interaction.userId, interaction);
  }
  // A user needs something to learn from besides the interaction held out.
  for (const [userId] of heldOut) if ((counts.get(userId) ?? 0) < 2) heldOut.delete(userId);

  const store = new MemoryModelStore(data.events);
  const heldOutSet = new Set(heldOut.values());
  for (const { interaction } of ordered) {
    if (heldOutSet.has(interaction)) continue;
    await applyInteraction(store, settings, {
      userId: interaction.userId,
      eventId: interaction.eventId,
      action: interaction.action,
      createdAt: interaction.at,
    });
  }

  const allEvents = [...new Set([...data.events.keys(), ...data.interactions.map((i) => i.eventId)])].sort();
  const touched = new Map<string, Set<string>>();
  for (const { userId, eventId } of data.interactions) {
    const set = touched.get(userId) ?? new Set<string>();
    set.add(eventId);
    touched.set(userId, set);
  }

  const random = seededRandom(seed);
  const totals = { popularity: { hits: 0, ndcg: 0 }, full: { hits: 0, ndcg: 0 } };
  let users = 0;
  for (const [userId, target] of [...heldOut].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const mine = touched.get(userId)!;
    if (allEvents.length - mine.size < negatives) continue;
    const sampled = new Set<string>();
    while (sampled.size < negatives) {
      const eventId = allEvents[Math.floor(random() * allEvents.length)]!;
      if (!mine.has(eventId)) sampled.add(eventId);
    }
    const candidateIds = [target.eventId, ...sampled];
    users += 1;
    for (const name of ['popularity', 'full'] as const) {
      const scores = scoresFor(store, settings, name === 'full' ? userId : undefined, candidateIds, target.at);
      // Ties are broken at random (seeded): a stranger's many equal scores must not favour the held-out event.
      const own = scores.get(target.eventId)!;
      const others = [...scores].filter(([id]) => id !== target.eventId).map(([, score]) => score);
      const ties = others.filter((score) => score === own).length;
      const rank = others.filter((score) => score > own).length + Math.floor(random() * (ties + 1));
      if (rank < k) {
        totals[name].hits += 1;
        totals[name].ndcg += 1 / Math.log2(rank + 2);
      }
    }
  }
  return {
    users,
    skippedUsers: counts.size - users,
    k,
    negatives,
    models: (['popularity', 'full'] as const).map((name) => ({
      name,
      hitRate: users ? totals[name].hits / users : 0,
      ndcg: users ? totals[name].ndcg / users : 0,
    })),
  };
}

/** The feed's scores of these candidates for the user (or for a stranger: popularity alone). */
function scoresFor(
  store: MemoryModelStore,
  settings: ModelSettings,
  userId: string | undefined,
  candidateIds: string[],
  now: Date,
): Map<string, number> {
  const pairs = userId ? store.pairs.get(userId) : undefined;
  const collaborative = new Map<string, number>();
  if (userId) {
    const recent = [...(pairs ?? [])]
      .filter(([, p]) => p.positiveAt !== null)
      .sort(([a, pa], [b, pb]) => pb.positiveAt!.getTime() - pa.positiveAt!.getTime() || (a < b ? -1 : 1))
      .slice(0, FEED_LIMITS.recentPositives);
    for (const [eventId] of recent) {
      for (const n of store.neighbours(eventId, FEED_LIMITS.neighboursPerEvent))
        collaborative.set(n.eventId, (collaborative.get(n.eventId) ?? 0) + n.value);
    }
  }
  const userAffinities = (userId && store.affinities.get(userId)) || new Map<string, number>();
  const top = [...userAffinities]
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, FEED_LIMITS.topFeatures);
  const candidates: Candidate[] = [];
  const scores = new Map<string, number>();
  const affinities = new Map(top);
  for (const eventId of candidateIds) {
    const features = store.events.get(eventId) ?? { category: null, tags: [], city: null, organizerId: '', kind: '' };
    const pair = pairs?.get(eventId);
    if (pair?.excluded) {
      scores.set(eventId, -Infinity); // the feed leaves dismissed and applied-to events out
      continue;
    }
    for (const feature of featuresOf(features)) if (userAffinities.has(feature)) affinities.set(feature, userAffinities.get(feature)!);
    candidates.push({
      eventId,
      features,
      direct: pair?.decayed ?? 0,
      collaborative: collaborative.get(eventId) ?? 0,
      popularity: store.popularity.get(eventId) ?? 0,
    });
  }
  for (const item of rankCandidates(settings, now, { affinities }, candidates)) scores.set(item.eventId, item.score);
  return scores;
}
