/**
 * The global item-item model (EASE, Steck 2019): weights B that best rebuild every user's positive
 * events from their other positive events, B = I − P · diag(1/diag P), P = (XᵀX + λI)⁻¹, with X
 * the users' binary positives and diag(B) = 0. Unlike co-occurrence it learns negative weights: an
 * event that a popular one already explains gains little from it. Fitted in batch, now and then
 * (see item-model-fitter.ts), over the most popular events: the inverse costs n³/2 multiplications.
 */
export interface ItemModelSettings {
  /** At most this many events, the most popular, are fitted. */
  items: number;
  /** Events fewer users were positive about are left out: their weights would be noise. */
  minUsers: number;
  /** λ: how strongly the weights are held towards 0. */
  lambda: number;
  /** The strongest positive weights kept per event (what the feed reads). */
  neighbours: number;
}

/** The item model's recency half-life, in positions, when the settings name none. */
export const DEFAULT_ITEM_MODEL_HALF_LIFE = 5;

/** One event's strongest neighbours, strongest first. */
export type ItemNeighbours = Map<string, { eventId: string; weight: number }[]>;

/** Gives the event loop a turn; the fit calls it between rows, so a worker keeps its queue locks alive. */
export type Pause = () => Promise<void>;

/** About this many steps of the fit's plain loops between pauses: some tens of milliseconds. */
const PAUSE_EVERY = 2e7;

/** The most any one user's history adds to the fit (their latest), so one user's cost is bounded. */
export const MAX_HISTORY = 500;

/**
 * Fits the model on the users' positive events over `candidates`, the events in order of preference
 * (the most popular first): each of `histories` is one user's positives, latest first, as places
 * in `candidates` (numbers, not ids: a large log's histories stay small). They are read once, as
 * they come, and not kept: a fit holds matrices of the candidates, not the users. Returns each
 * fitted event's strongest positive neighbours among those `recommendable` (by place; default all):
 * an event that has started still says what its fans like next, but is no neighbour worth a slot.
 * `users`: how many users had positives among the candidates.
 */
export async function fitItemModel(
  histories: Iterable<readonly number[]> | AsyncIterable<readonly number[]>,
  candidates: readonly string[],
  settings: ItemModelSettings,
  options: { pause?: Pause; recommendable?: (place: number) => boolean } = {},
): Promise<{ neighbours: ItemNeighbours; items: number; users: number }> {
  const { pause, recommendable = () => true } = options;
  // XᵀX over every candidate, in one pass; its diagonal counts each candidate's users. Single
  // precision: half the memory (16 MB at 2,000 candidates) and exact for counts below 2²⁴.
  const c = candidates.length;
  let all = new Float32Array(c * c);
  let users = 0;
  let added = 0;
  for await (const history of histories) {
    const row = [...new Set(history.slice(0, MAX_HISTORY))];
    if (row.length === 0) continue;
    users += 1;
    for (const i of row) for (const j of row) all[i * c + j]! += 1;
    added += row.length * row.length;
    if (pause && added > PAUSE_EVERY) {
      added = 0;
      await pause();
    }
  }
  // Fitted: the first `items` candidates with `minUsers`.
  const fitted: number[] = [];
  for (let place = 0; place < c && fitted.length < settings.items; place += 1) {
    if (all[place * c + place]! >= settings.minUsers) fitted.push(place);
  }
  const n = fitted.length;
  const items = fitted.map((place) => candidates[place]!);
  const neighbourable = fitted.map((place) => recommendable(place));
  const neighbours: ItemNeighbours = new Map();
  if (n < 2) return { neighbours, items: n, users };
  let gram = all;
  if (n < c) {
    gram = new Float32Array(n * n);
    for (let i = 0; i < n; i += 1) for (let j = 0; j < n; j += 1) gram[i * n + j] = all[fitted[i]! * c + fitted[j]!]!;
    all = gram; // the candidates' matrix can go
  }
  for (let i = 0; i < n; i += 1) gram[i * n + i]! += settings.lambda;
  const p = await invertSymmetricPositiveDefinite(gram, n, pause);

  // Each row's positive weights, strongest first (equal ones by event id); only the kept become objects.
  const weight = new Float64Array(n);
  const strongestFirst = (a: number, b: number) => weight[b]! - weight[a]! || (items[a]! < items[b]! ? -1 : 1);
  const rowsPerPause = Math.max(1, Math.floor(PAUSE_EVERY / (n * Math.log2(n)))); // a row is read, then sorted
  for (let i = 0; i < n; i += 1) {
    if (pause && i % rowsPerPause === 0) await pause();
    const positive: number[] = [];
    for (let j = 0; j < n; j += 1) {
      if (j === i || !neighbourable[j]) continue;
      weight[j] = -p[i * n + j]! / p[j * n + j]!;
      if (weight[j]! > 0) positive.push(j);
    }
    if (positive.length === 0) continue;
    const kept = positive.sort(strongestFirst).slice(0, settings.neighbours);
    neighbours.set(
      items[i]!,
      kept.map((j) => ({ eventId: items[j]!, weight: weight[j]! })),
    );
  }
  return { neighbours, items: n, users };
}

/**
 * A⁻¹ of a symmetric positive definite n×n matrix (row-major): A = L·Lᵀ (Cholesky), T = (L⁻¹)ᵀ,
 * A⁻¹ = T·Tᵀ. Each step is a dot product along two rows, so memory is read in order and the sums
 * stay in registers (in double precision, whatever the buffers hold). Two n×n buffers: `a` takes
 * L, then the result.
 */
export async function invertSymmetricPositiveDefinite<T extends Float32Array | Float64Array>(a: T, n: number, pause?: Pause): Promise<T> {
  const every = Math.max(1, Math.floor(PAUSE_EVERY / (n * n))); // rows between pauses
  for (let i = 0; i < n; i += 1) {
    if (pause && i % every === 0) await pause();
    const ri = i * n;
    for (let j = 0; j <= i; j += 1) {
      const rj = j * n;
      const sum = a[ri + j]! - dot(a, ri, a, rj, 0, j);
      if (i === j) {
        if (!(sum > 0)) throw new Error('the matrix is not positive definite');
        a[ri + i] = Math.sqrt(sum);
      } else {
        a[ri + j] = sum / a[rj + j]!;
      }
    }
  }
  // T is upper triangular: T[j][i] = L⁻¹[i][j] = −(Σ_{k=j}^{i−1} L[i][k]·T[j][k]) / L[i][i].
  const t = (a instanceof Float32Array ? new Float32Array(n * n) : new Float64Array(n * n)) as T;
  for (let i = 0; i < n; i += 1) {
    if (pause && i % every === 0) await pause();
    const ri = i * n;
    const d = 1 / a[ri + i]!;
    t[ri + i] = d;
    for (let j = 0; j < i; j += 1) t[j * n + i] = -dot(a, ri, t, j * n, j, i) * d;
  }
  // A⁻¹[i][j] = Σ_{k ≥ i} T[i][k]·T[j][k] for j ≤ i; L is done with, so its buffer takes it.
  for (let i = 0; i < n; i += 1) {
    if (pause && i % every === 0) await pause();
    const ri = i * n;
    for (let j = 0; j <= i; j += 1) {
      const value = dot(t, ri, t, j * n, i, n);
      a[ri + j] = value;
      a[j * n + i] = value;
    }
  }
  return a;
}

/** Σ of x[xAt + k] · y[yAt + k] for k from `from` to `to` − 1, in four running sums (they pipeline). */
function dot(x: Float32Array | Float64Array, xAt: number, y: Float32Array | Float64Array, yAt: number, from: number, to: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = from;
  for (; k + 3 < to; k += 4) {
    s0 += x[xAt + k]! * y[yAt + k]!;
    s1 += x[xAt + k + 1]! * y[yAt + k + 1]!;
    s2 += x[xAt + k + 2]! * y[yAt + k + 2]!;
    s3 += x[xAt + k + 3]! * y[yAt + k + 3]!;
  }
  for (; k < to; k += 1) s0 += x[xAt + k]! * y[yAt + k]!;
  return s0 + s1 + s2 + s3;
}

/**
 * The item model's score of each event for a user: Σ over their latest positive events r (k from
 * 0, the latest) of 2^(−k / halfLife) · B[r][event], as the feed's query sums it.
 */
export function itemModelScores(neighbours: ItemNeighbours, latest: readonly string[], halfLife: number): Map<string, number> {
  const scores = new Map<string, number>();
  latest.forEach((recent, k) => {
    const weight = 2 ** (-k / halfLife);
    for (const { eventId, weight: b } of neighbours.get(recent) ?? []) scores.set(eventId, (scores.get(eventId) ?? 0) + weight * b);
  });
  return scores;
}
