import path from 'node:path';
// Command line and every size of the run, derived from one --scale factor.

// In run order: freshness reuses the processes and drained backlog of ingest and drain, and the
// naive baseline runs once that deployment is gone, so nothing of it competes for the CPU.
export const PHASES = ['ceiling', 'ingest', 'drain', 'freshness', 'naive', 'feed', 'cost', 'replay'] as const;
export type Phase = (typeof PHASES)[number];

export interface Settings {
  scale: number;
  phases: Phase[];
  /** NODE_OPTIONS of the measured processes (web, worker, ceiling, naive worker; not the scripts); empty: Node's defaults. */
  nodeOptions: string;
  /** Closed-loop HTTP load of the ceiling and ingest phases. */
  /**
   * Closed-loop HTTP load of the ceiling and ingest phases. `history`: interactions of the same
   * users (skewed, some with thousands) loaded by SQL and built into the model first, so that the
   * drain pairs each new positive with a real window of earlier ones.
   */
  ingest: { connections: number; warmupS: number; durationS: number; users: number; events: number; backlog: number; history: number };
  naive: { interactions: number; concurrency: number; poolMax: number };
  freshness: { rate: number; warmupS: number; durationS: number; sampleEvery: number; pollMs: number };
  feed: { events: number; users: number; interactions: number; connections: number; warmupS: number; durationS: number };
  cost: { priors: number[]; perClass: number; events: number; backgroundUsers: number; backgroundInteractions: number };
  /**
   * A real log replayed through the public API (the eval's CSV format): the dev log by default,
   * `--replay-interactions FILE --replay-events FILE` for another.
   */
  replay: {
    interactions: string;
    events: string;
    warmupS: number;
    durationS: number;
    /** INTERACTION_MAX_AGE_DAYS of the replay (`--replay-max-age-days`): the log's span is squeezed into it. */
    maxAgeDays?: number;
    /** `--replay-quality-only`: the held-out figures through the API, no load. */
    qualityOnly: boolean;
  };
  /**
   * Caps on the waits whose length depends on the service's speed, so that a slow build still ends
   * in about 12 minutes at scale 1; a capped step reports what it got through and is marked so.
   */
  capsS: {
    drain: number;
    naive: number;
    ingestRebuild: number;
    feedRebuild: number;
    costRebuild: number;
    costDrain: number;
    visibility: number;
  };
}

export function parseArgs(argv: string[]): Settings {
  let scale = 1;
  let phases: Phase[] = [...PHASES];
  let nodeOptions = '';
  let replayInteractions = path.join(DEV_LOG, 'interactions.csv');
  let replayEvents = path.join(DEV_LOG, 'events.csv');
  let replayMaxAgeDays: number | undefined;
  let qualityOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i] ?? fail(`${flag} needs a value`);
    if (flag === '--scale') {
      scale = Number(value());
      if (!(scale > 0 && scale <= 10)) fail('--scale must be a number in (0, 10]');
    } else if (flag === '--only') {
      const names = value()
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean);
      const unknown = names.filter((name) => !(PHASES as readonly string[]).includes(name));
      if (unknown.length > 0 || names.length === 0) fail(`--only takes a comma-separated list of: ${PHASES.join(', ')}`);
      // Run in the canonical order whatever order they were given in: later phases reuse earlier state.
      phases = PHASES.filter((phase) => names.includes(phase));
    } else if (flag === '--replay-interactions') {
      replayInteractions = path.resolve(value());
    } else if (flag === '--replay-events') {
      replayEvents = path.resolve(value());
    } else if (flag === '--replay-max-age-days') {
      replayMaxAgeDays = Number(value());
      if (!(replayMaxAgeDays >= 1 && replayMaxAgeDays <= 365)) fail('--replay-max-age-days must be a number of days in [1, 365]');
    } else if (flag === '--replay-quality-only') {
      qualityOnly = true;
    } else if (flag === '--node-options') {
      nodeOptions = value().trim();
    } else if (flag === '--help' || flag === '-h') {
      console.log(
        `Usage: npm run bench -- [--scale <factor>] [--only <${PHASES.join(',')}>] [--node-options=<flags>] [--replay-interactions FILE --replay-events FILE] [--replay-max-age-days N] [--replay-quality-only]`,
      );
      process.exit(0);
    } else {
      fail(`unknown argument ${arg}`);
    }
  }
  const sizes = sizesFor(scale, phases);
  return {
    ...sizes,
    nodeOptions,
    replay: {
      ...sizes.replay,
      interactions: replayInteractions,
      events: replayEvents,
      maxAgeDays: replayMaxAgeDays,
      qualityOnly,
    },
  };
}

/** The dev log (docs/recommendation-model.md): read where it lies, never copied into the project. */
const DEV_LOG = path.join(__dirname, '..', '..', 'shared', 'data', 'ml-latest-small');

function sizesFor(
  scale: number,
  phases: Phase[],
): Omit<Settings, 'nodeOptions' | 'replay'> & { replay: Pick<Settings['replay'], 'warmupS' | 'durationS'> } {
  const n = (base: number, min: number) => Math.max(min, Math.round(base * scale));
  return {
    scale,
    phases,
    ingest: {
      connections: 64,
      warmupS: n(3, 1),
      durationS: n(15, 3),
      users: n(20_000, 500),
      events: n(10_000, 500),
      backlog: n(100_000, 1000),
      history: n(200_000, 2000),
    },
    naive: { interactions: n(30_000, 1000), concurrency: 16, poolMax: 10 },
    // The rate is the target being checked, so it does not shrink; only the window does.
    freshness: { rate: 1000, warmupS: n(3, 1), durationS: n(20, 5), sampleEvery: 5, pollMs: 5 },
    feed: {
      events: n(10_000, 500),
      users: n(50_000, 1000),
      interactions: n(1_000_000, 10_000),
      connections: 16,
      warmupS: n(3, 1),
      durationS: n(15, 3),
    },
    cost: {
      priors: [10, n(1000, 10), n(100_000, 100)],
      perClass: n(2000, 500),
      events: n(10_000, 500),
      backgroundUsers: n(5000, 100),
      backgroundInteractions: n(50_000, 1000),
    },
    replay: { warmupS: n(2, 1), durationS: n(8, 2) },
    capsS: { drain: 120, naive: 60, ingestRebuild: 200, feedRebuild: 900, costRebuild: 200, costDrain: 45, visibility: 30 },
  };
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
