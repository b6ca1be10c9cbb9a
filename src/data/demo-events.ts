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

/** Inserts the demo events, moving their dates forward so they stay upcoming. Returns their ids. */
export async function seedDemoEvents(db: Db): Promise<{ id: string; title: string }[]> {
  const now = Date.now();
  await EventModel.query(db)
    .insert(
      DEMO.map(({ inDays, tags, ...event }) => ({
        ...event,
        tags: [...tags],
        startsAt: new Date(now + inDays * DAY),
        organizerId: 'demo-organizer',
      })),
    )
    .onConflict('id')
    .merge(['startsAt']);
  return DEMO.map(({ id, title }) => ({ id, title }));
}
