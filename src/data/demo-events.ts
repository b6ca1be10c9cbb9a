import type { Db } from './db';
import { EventModel } from './models';

const DAY = 24 * 60 * 60 * 1000;

/** A handful of upcoming events with stable ids, so a fresh checkout has something to interact with. */
const DEMO = [
  {
    id: '0193a0de-0000-7000-8000-000000000001',
    title: 'Late-night jazz trio',
    kind: 'gig',
    category: 'jazz',
    tags: ['jazz', 'live'],
    city: 'Berlin',
    inDays: 3,
  },
  {
    id: '0193a0de-0000-7000-8000-000000000002',
    title: 'Warehouse techno',
    kind: 'event',
    category: 'techno',
    tags: ['techno', 'club'],
    city: 'Berlin',
    inDays: 5,
  },
  {
    id: '0193a0de-0000-7000-8000-000000000003',
    title: 'Open-air film night',
    kind: 'event',
    category: 'film',
    tags: ['outdoor'],
    city: 'Hamburg',
    inDays: 8,
  },
  {
    id: '0193a0de-0000-7000-8000-000000000004',
    title: 'Session drummer wanted',
    kind: 'gig',
    category: 'jazz',
    tags: ['jazz', 'drums'],
    city: 'Munich',
    inDays: 12,
  },
  {
    id: '0193a0de-0000-7000-8000-000000000005',
    title: 'Indie songwriter evening',
    kind: 'event',
    category: 'indie',
    tags: ['acoustic'],
    city: 'Cologne',
    inDays: 15,
  },
] as const;

/** What the generated part of the catalogue is made of. */
const CITIES = ['Berlin', 'Hamburg', 'Munich', 'Cologne', 'Leipzig', 'Frankfurt'];
const CATEGORIES: Record<string, { tags: string[]; titles: string[] }> = {
  jazz: {
    tags: ['jazz', 'live', 'late-night', 'drums'],
    titles: ['Jazz trio', 'Big band night', 'Jam session', 'Drummer wanted for a jazz quartet'],
  },
  techno: { tags: ['techno', 'club', 'dj'], titles: ['Warehouse techno', 'Techno all-nighter', 'Resident DJ wanted'] },
  film: { tags: ['film', 'outdoor', 'premiere'], titles: ['Open-air cinema', 'Short film evening', 'Projectionist wanted'] },
  indie: { tags: ['indie', 'acoustic', 'live'], titles: ['Indie songwriter evening', 'Indie rock show', 'Support act wanted'] },
  classical: { tags: ['classical', 'orchestra', 'piano'], titles: ['Chamber concert', 'Piano recital', 'Cellist wanted for a quartet'] },
  theatre: { tags: ['theatre', 'drama'], titles: ['Improv theatre', 'Premiere night', 'Stagehand wanted'] },
  comedy: { tags: ['comedy', 'stand-up'], titles: ['Stand-up open mic', 'Comedy night', 'Host wanted for a comedy night'] },
  art: { tags: ['art', 'exhibition'], titles: ['Gallery opening', 'Street art tour', 'Muralist wanted'] },
};
/** How many events the demo catalogue has besides the five named ones. */
export const GENERATED_DEMO_EVENTS = 300;

export interface DemoEvent {
  id: string;
  title: string;
  kind: 'event' | 'gig';
  category: string;
  city: string;
}

/** A small seeded generator (mulberry32): the same demo on every machine. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The demo catalogue: the five named events, and generated ones across kinds, cities, categories and the next 90 days. */
export function demoCatalogue() {
  const random = seeded(2026);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const generated = Array.from({ length: GENERATED_DEMO_EVENTS }, (_, i) => {
    const category = pick(Object.keys(CATEGORIES));
    const { tags, titles } = CATEGORIES[category]!;
    const title = pick(titles);
    const city = pick(CITIES);
    return {
      id: `0193a0de-0000-7000-8001-${String(i + 1).padStart(12, '0')}`,
      title: `${title}, ${city}`,
      kind: (title.includes('wanted') ? 'gig' : 'event') as 'gig' | 'event',
      category,
      tags: [...new Set([category, pick(tags), pick(tags)])],
      city,
      inDays: 1 + Math.floor(random() * 90),
    };
  });
  return [...DEMO.map((event) => ({ ...event, tags: [...event.tags] })), ...generated];
}

/** Inserts the demo events, moving their dates forward so they stay upcoming. Returns them. */
export async function seedDemoEvents(db: Db): Promise<DemoEvent[]> {
  const now = Date.now();
  const catalogue = demoCatalogue();
  await EventModel.query(db)
    .insert(
      catalogue.map(({ inDays, ...event }) => ({
        ...event,
        startsAt: new Date(now + inDays * DAY),
        organizerId: 'demo-organizer',
      })),
    )
    .onConflict('id')
    .merge(['startsAt']);
  return catalogue.map(({ id, title, kind, category, city }) => ({ id, title, kind, category, city }));
}
