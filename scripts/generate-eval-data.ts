// `npm run eval:generate -- --out DIR [--users 1000] [--events 800] [--seed 42]`: synthetic data with planted tastes.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateEvalData } from '../eval/generate';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'eval-data' },
    users: { type: 'string', default: '1000' },
    events: { type: 'string', default: '800' },
    seed: { type: 'string', default: '42' },
  },
});
const data = generateEvalData({ users: Number(values.users), events: Number(values.events), seed: Number(values.seed) });
mkdirSync(values.out!, { recursive: true });
writeFileSync(path.join(values.out!, 'interactions.csv'), data.interactionsCsv);
writeFileSync(path.join(values.out!, 'events.csv'), data.eventsCsv);
console.log(`Wrote ${path.join(values.out!, 'interactions.csv')} and events.csv`);
