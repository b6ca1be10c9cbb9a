// The shape of bench/results/latest.json, phase by phase.
import type { ClosedLoopResult, Distribution } from './load';
import type { RebuildResult } from './seed';

export interface CeilingResult {
  connections: number;
  warmupS: number;
  measured: ClosedLoopResult;
}

export interface IngestResult {
  connections: number;
  warmupS: number;
  users: number;
  events: number;
  measured: ClosedLoopResult;
  /** 202s of the warm-up, the timed window and the untimed top-up: the drain's backlog. */
  accepted: { warmup: number; timed: number; topUp: number; total: number };
  topUpStatusCounts: Record<string, number>;
  /** Jobs waiting in the queue once the load stopped (the worker was not running). */
  queuedJobs: number;
  vsCeiling?: { throughputRatio: number; p99Ratio: number };
}

export interface DrainMeasure {
  /** Rows expected (202s, or jobs enqueued) and rows found at the end. */
  expected: number;
  rows: number;
  completed: boolean;
  /** Why it stopped short, when it did. */
  note?: string;
  /** From the first row seen to the last, and the rate over that window. */
  seconds: number;
  ratePerS: number;
  /** From the worker's start, start-up included. */
  secondsFromStart: number;
  ratePerSFromStart: number;
  failedJobs: number;
}

export interface DrainResult extends DrainMeasure {
  workerReadyS?: number;
  vsNaive?: number;
  /** Seconds after the last row until every first positive was folded into co-occurrence (the collaborative signal's lag at the end). */
  foldLagS?: number;
  /** CPU per interaction from the first row until the co-occurrence caught up (absent if it never did). */
  cpu?: DrainCpu;
}

export interface DrainCpu {
  interactions: number;
  /** Microseconds of CPU per interaction: the whole machine, and the processes that do the work. */
  micros: { machine: number; postgres: number; worker: number; redis: number };
}

export interface NaiveResult extends DrainMeasure {
  concurrency: number;
  poolMax: number;
}

export interface FreshnessResult {
  targetRate: number;
  warmupS: number;
  durationS: number;
  sent: number;
  achievedRate: number;
  statusCounts: Record<string, number>;
  /** From the scheduled send time to the 202. */
  acceptMs?: Distribution;
  /** From the 202's arrival to the row (and its score) being visible in PostgreSQL. */
  visibleMs?: Distribution;
  sampleEvery: number;
  sampled: number;
  notVisible: number;
  pollMs: number;
}

export interface FeedResult {
  events: number;
  users: number;
  interactions: number;
  seedS: number;
  rebuild: RebuildResult;
  connections: number;
  warmupS: number;
  measured: ClosedLoopResult;
  /** One request at a time: the time one feed takes to make, without waiting behind others. */
  single: ClosedLoopResult;
  /** First pages of users whose previous one, moments before, left their ranking ready (absent from older runs). */
  ahead?: { users: number; measured: ClosedLoopResult; single: ClosedLoopResult };
  /** First pages within a filter (kind and city, two categories, or a city and the next two weeks), ranked on request. */
  filtered?: { measured: ClosedLoopResult; single: ClosedLoopResult };
  /** GET /events/:id/similar?limit=10 of random events for random users. */
  similar?: { measured: ClosedLoopResult; single: ClosedLoopResult };
}

/** One shape of page at one concurrency, with the CPU each process spent per request (µs). */
export interface ReplayRow {
  connections: number;
  result: ClosedLoopResult;
  cpuUsPerRequest: { web: number; worker: number; postgres: number; redis: number };
}

export interface ReplayQuality {
  feed: { users: number; hitRate: number; ndcg: number };
  /** The first page within the held-out event's category. */
  filtered: { users: number; hitRate: number; ndcg: number };
  /** Similar events of the user's last positive event before the held-out one. */
  similar: { users: number; hitRate: number; ndcg: number };
}

export interface ReplayResult {
  /** Why the phase did not run (no log where it was looked for). */
  skipped?: string;
  interactionsFile: string;
  users: number;
  events: number;
  interactions: number;
  accepted: number;
  /** How many times the log's time span was shortened to fit the allowed age (INTERACTION_MAX_AGE_DAYS, `maxAgeDays`). */
  squeeze: number;
  maxAgeDays: number;
  /** Each user's held-out last positive against what the API served them (whole catalogue, k = 10). */
  quality: ReplayQuality;
  /** From the first batch sent: the last answered, the last row stored, the last folded, and the item model fitted on them all. */
  sendS: number;
  storedS: number;
  drainS: number;
  fittedS: number;
  drainPerS: number;
  durationS: number;
  /** afresh, stored, filtered, similar: a row per concurrency (1, 4, 16). */
  shapes: Record<string, ReplayRow[]>;
}

export interface CostClass {
  priorInteractions: number;
  accepted: number;
  measure: DrainMeasure;
  msPerInteraction: number;
}

export interface CostResult {
  perClass: number;
  events: number;
  background: { users: number; interactions: number };
  seedS: number;
  rebuild: RebuildResult;
  classes: CostClass[];
  skipped?: string;
  ratioMaxMin?: number;
}

export interface PhaseResults {
  ceiling?: CeilingResult;
  ingest?: IngestResult;
  drain?: DrainResult;
  naive?: NaiveResult;
  freshness?: FreshnessResult;
  feed?: FeedResult;
  cost?: CostResult;
  replay?: ReplayResult;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  postgres: string;
  redis: string;
  os: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
}

export interface BenchResults {
  startedAt: string;
  finishedAt?: string;
  durationS?: number;
  scale: number;
  phases: string[];
  logLevel: string;
  /** NODE_OPTIONS of the measured processes; empty: Node's defaults. */
  nodeOptions: string;
  service: { commit: string; uncommittedFiles: number };
  machine: Machine;
  settings: unknown;
  results: PhaseResults;
  /** Peak VmRSS in MB, per phase, per process. */
  rssPeakMb: Record<string, Record<string, number>>;
  errors: Record<string, string>;
}
