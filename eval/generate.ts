import { seededRandom } from './data';

const CATEGORIES = ['jazz', 'techno', 'rock', 'classical', 'hiphop', 'folk', 'comedy', 'theatre', 'film', 'art', 'food', 'sports'];
const CITIES = ['Berlin', 'Hamburg', 'Munich', 'Cologne', 'Leipzig', 'Dresden', 'Bremen', 'Frankfurt'];
const GENERAL_TAGS = ['outdoor', 'free', 'family', 'late-night', 'live'];
const DAY = 24 * 60 * 60 * 1000;

/**
 * Synthetic data with planted tastes, for the evaluation's tests: each user prefers one or two
 * categories and a home city; events have a skewed popularity. A model that learns tastes should
 * beat popularity on it. Seeded: the same arguments give the same files.
 */
export function generateEvalData(options: { users: number; events: number; seed: number; start?: Date }): {
  interactionsCsv: string;
  eventsCsv: string;
} {
  const random = seededRandom(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const start = (options.start ?? new Date('2026-01-01T00:00:00Z')).getTime();

  const events = Array.from({ length: options.events }, (_, i) => {
    const category = pick(CATEGORIES);
    const tags = new Set([`${category}-${1 + Math.floor(random() * 4)}`, `${category}-${1 + Math.floor(random() * 4)}`]);
    if (random() < 0.5) tags.add(pick(GENERAL_TAGS));
    return { id: `e${i + 1}`, category, city: pick(CITIES), tags: [...tags], weight: 1 / (1 + i) ** 0.8 };
  });
  const weighted = (list: typeof events) => {
    const total = list.reduce((sum, e) => sum + e.weight, 0);
    let r = random() * total;
    for (const e of list) {
      r -= e.weight;
      if (r <= 0) return e;
    }
    return list[list.length - 1]!;
  };

  const lines = ['user_id,event_id,action,timestamp'];
  for (let u = 1; u <= options.users; u += 1) {
    const tastes = new Set([pick(CATEGORIES), ...(random() < 0.5 ? [pick(CATEGORIES)] : [])]);
    const home = pick(CITIES);
    const liked = events.filter((e) => tastes.has(e.category));
    const likedAtHome = liked.filter((e) => e.city === home);
    const count = 4 + Math.floor(-Math.log(1 - random()) * 12);
    let at = start + random() * 30 * DAY;
    for (let n = 0; n < count; n += 1) {
      at += random() * 2 * DAY;
      const roll = random();
      let event =
        roll < 0.5 && likedAtHome.length ? weighted(likedAtHome) : roll < 0.8 && liked.length ? weighted(liked) : weighted(events);
      let action = random() < 0.55 ? 'VIEW' : random() < 0.45 ? 'CLICK' : random() < 0.8 ? 'SAVE' : 'APPLY';
      if (!tastes.has(event.category) && random() < 0.15) action = 'DISMISS';
      if (action === 'DISMISS') event = weighted(events.filter((e) => !tastes.has(e.category)));
      lines.push(`u${u},${event.id},${action},${n % 2 ? new Date(at).toISOString() : Math.floor(at / 1000)}`);
    }
  }
  const eventLines = ['event_id,category,tags,city', ...events.map((e) => `${e.id},${e.category},${e.tags.join('|')},${e.city}`)];
  return { interactionsCsv: `${lines.join('\n')}\n`, eventsCsv: `${eventLines.join('\n')}\n` };
}
