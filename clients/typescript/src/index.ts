/**
 * The interaction-tracking client: `track()` returns at once; interactions are buffered (in
 * pluggable storage, so a reload or a crash loses nothing), sent in batches to
 * POST /interactions/batch, and retried until the service has stored them. Each interaction gets
 * its idempotency key when it is tracked, so a batch sent twice (a lost answer, a crash between the
 * answer and the save) is recorded once. Uses fetch only: Node 20 and browsers.
 */

export type Action = 'VIEW' | 'SAVE' | 'CLICK' | 'APPLY' | 'DISMISS';

/** One tracked interaction, as kept in storage until the service has stored it. */
export interface PendingInteraction {
  eventId: string;
  action: Action;
  /** When it was tracked, by this device's clock (the service corrects the skew with sentAt). */
  occurredAt: string;
  idempotencyKey: string;
  /** The recommendationId of the feed page the user acted from, if any. */
  recommendationId?: string;
}

/**
 * Where the buffer lives between sends. Changes are given item by item (never a whole snapshot),
 * so several writers sharing one storage (tabs of one origin) never erase each other's items; an
 * item tracked in one tab and sent by another is recorded once, by its idempotency key. A change
 * must be durable when it returns (or resolves).
 */
export interface BufferStorage {
  load(): PendingInteraction[] | Promise<PendingInteraction[]>;
  add(items: PendingInteraction[]): void | Promise<void>;
  /** Removes the items with these idempotency keys (those the service stored or refused). */
  remove(idempotencyKeys: string[]): void | Promise<void>;
}

/** An interaction the service refused for good (400 or 404): reported, then dropped. */
export interface Dropped {
  interaction: PendingInteraction;
  status: number;
  error: { code: string; message: string };
}

export interface ClientOptions {
  /** The service's base URL, e.g. https://api.example.com */
  baseUrl: string;
  /** The user's bearer token (called before every request, so it may refresh it). */
  getToken: () => string | Promise<string>;
  /** Default: memory (lost on exit); `localStorageBuffer()` in browsers, `fileBuffer(path)` in Node. */
  storage?: BufferStorage;
  /**
   * Interactions per request, 1 to 500 (default 100): the most. After a timeout, a 408 or a 503 the
   * next requests carry half as many (a slow link may need small bodies), then twice as many again
   * after each success.
   */
  batchSize?: number;
  /** How long one request may take before it is abandoned and retried (default 30000 ms). */
  requestTimeoutMs?: number;
  /** How long a tracked interaction may wait for others to join its batch (default 1000 ms). */
  flushIntervalMs?: number;
  /** First retry delay, doubled on each failure up to maxRetryDelayMs, with jitter (default 1000 ms). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Told of each interaction the service refused for good. */
  onDrop?: (dropped: Dropped) => void;
  /** Told of each failed attempt that will be retried (network error, 401/403, 408, 429, 5xx). */
  onRetry?: (reason: string, delayMs: number) => void;
  /** The most interactions kept unsent (default 10,000); past it the oldest go first, told here. */
  maxBuffered?: number;
  onOverflow?: (dropped: PendingInteraction[]) => void;
  fetch?: typeof fetch;
}

export interface Client {
  /**
   * Buffers an interaction and returns at once; it is sent with the next batch. Pass the feed
   * page's `recommendationId` when the user acted from the feed, so the service attributes it.
   */
  track(eventId: string, action: Action, options?: { recommendationId?: string }): void;
  /**
   * Resolves once every interaction tracked so far is stored by the service or dropped; rejects
   * with TokenRefusedError while the service refuses the token (the interactions are kept).
   */
  flush(): Promise<void>;
  /** Stops sending after one last attempt; what is still buffered stays in storage for next time. */
  close(): Promise<void>;
  /** Interactions not yet acknowledged. */
  readonly pending: number;
  /**
   * A page of the user's feed (GET /recommendations), optionally within filters; pass the page's
   * `nextCursor` with the same filters for the next one. Throws ApiError on an error answer.
   */
  feed(options?: FeedOptions): Promise<FeedPage>;
  /** Upcoming events to show beside one (GET /events/:id/similar). Throws ApiError on an error answer. */
  similar(eventId: string, options?: { limit?: number }): Promise<{ items: SimilarItem[] }>;
}

/** The feed's filters (combined with AND: the feed is ranked within them) and paging. */
export interface FeedOptions {
  limit?: number;
  cursor?: string;
  kind?: 'event' | 'gig';
  city?: string;
  /** Any of them. */
  category?: string | readonly string[];
  startsAfter?: Date | string;
  startsBefore?: Date | string;
}

export interface ShownEvent {
  id: string;
  title: string;
  startsAt: string;
  kind: string;
  category: string | null;
  tags: string[];
  city: string | null;
}

export interface Reason {
  code: string;
  text: string;
  feature?: { type: string; value: string };
}

export interface FeedPage {
  /** Send it with track() for interactions the page leads to. */
  recommendationId: string;
  items: { eventId: string; position: number; score: number; reasons: Reason[]; event: ShownEvent }[];
  nextCursor: string | null;
}

export interface SimilarItem {
  eventId: string;
  score: number;
  reasons: Reason[];
  event: ShownEvent;
}

/** An error answer of a read: its HTTP status and the service's stable code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Keeps the buffer in memory: lost when the process or page goes. */
export function memoryBuffer(): BufferStorage {
  return snapshotBuffer(
    () => [],
    () => undefined,
  );
}

/**
 * A storage kept as one whole list, for a single writer (memory, a file in one process): each
 * change rewrites the list through `write`.
 */
export function snapshotBuffer(read: () => PendingInteraction[], write: (items: PendingInteraction[]) => void): BufferStorage {
  let items: PendingInteraction[] | undefined;
  const current = () => (items ??= read());
  return {
    load: () => current().slice(),
    add: (added) => write((items = [...current(), ...added])),
    remove: (keys) => {
      const gone = new Set(keys);
      write((items = current().filter((item) => !gone.has(item.idempotencyKey))));
    },
  };
}

interface WebStorage {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Keeps the buffer in the browser's localStorage (survives reloads), one entry per interaction
 * under `prefix`: tabs of one origin add and remove their own entries, so none erases another's
 * (a whole list written back by each tab would keep only the last tab's). A tab that starts picks
 * up what any tab left, oldest first.
 */
export function localStorageBuffer(prefix = 'interaction-tracking:buffer'): BufferStorage {
  const store = (globalThis as { localStorage?: WebStorage }).localStorage;
  if (!store) throw new Error('localStorage is not available here; use memoryBuffer() or fileBuffer()');
  const entry = (idempotencyKey: string) => `${prefix}:${idempotencyKey}`;
  return {
    load() {
      const items: PendingInteraction[] = [];
      for (let i = 0; i < store.length; i += 1) {
        const key = store.key(i);
        if (!key?.startsWith(`${prefix}:`)) continue;
        try {
          items.push(JSON.parse(store.getItem(key) ?? 'null') as PendingInteraction);
        } catch {
          store.removeItem(key); // not ours to read: never sent, so dropped
        }
      }
      return items.filter(Boolean).sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
    },
    add: (items) => items.forEach((item) => store.setItem(entry(item.idempotencyKey), JSON.stringify(item))),
    remove: (keys) => keys.forEach((key) => store.removeItem(entry(key))),
  };
}

const MAX_BATCH = 500;
/** What the requests sent as a page goes away may carry together (browsers allow 64 KiB of keepalive bodies). */
const KEEPALIVE_BYTES = 60_000;

/**
 * flush() rejects with this when the service refuses the token (401, 403). The interactions are
 * kept; nothing is sent with that token again, and sending resumes once getToken gives another.
 */
export class TokenRefusedError extends Error {
  constructor(readonly status: number) {
    super(`The service refused the token (HTTP ${status}); interactions are kept and sent once getToken gives another token`);
    this.name = 'TokenRefusedError';
  }
}

type Outcome = { settled: Set<string>; retryAfterMs?: number; reason?: string; shrink?: boolean; refused?: number };

export function createClient(options: ClientOptions): Client {
  const storage = options.storage ?? memoryBuffer();
  const batchSize = Math.min(Math.max(1, options.batchSize ?? 100), MAX_BATCH);
  const maxBuffered = Math.max(1, options.maxBuffered ?? 10_000);
  const flushIntervalMs = options.flushIntervalMs ?? 1000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 60_000;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const url = `${baseUrl}/interactions/batch`;

  const read = async <T>(path: string, query: [string, string | number | Date | undefined][]): Promise<T> => {
    const params = new URLSearchParams();
    for (const [name, value] of query) {
      if (value !== undefined) params.append(name, value instanceof Date ? value.toISOString() : String(value));
    }
    const text = params.toString();
    const res = await doFetch(`${baseUrl}${path}${text ? `?${text}` : ''}`, {
      headers: { authorization: `Bearer ${await options.getToken()}` },
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    const body = (await res.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
    if (!res.ok) throw new ApiError(res.status, body?.error?.code ?? 'error', body?.error?.message ?? `HTTP ${res.status}`);
    return body as T;
  };

  // Storage is read once, and every change is written through: at once (before `track` returns)
  // for a storage that saves synchronously (memory, localStorage, a file), in order for one that
  // saves asynchronously. Nothing is written before what was stored has been read.
  let buffer: PendingInteraction[] = [];
  const initial = storage.load();
  let ready = Array.isArray(initial);
  if (ready) buffer = (initial as PendingInteraction[]).slice();
  const loaded = Promise.resolve(initial).then((items) => {
    if (!ready) buffer = [...items, ...buffer];
    ready = true;
  });
  let writes: Promise<void> | undefined; // the chain of an asynchronous storage's changes
  const persist = (change: () => void | Promise<void>): Promise<void> => {
    if (!ready) return loaded.then(() => persist(change));
    if (writes) return (writes = writes.then(change));
    const result = change();
    if (result && typeof result.then === 'function') writes = result;
    return Promise.resolve(result);
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending: Promise<void> | undefined;
  let failures = 0;
  let currentBatch = batchSize;
  let closed = false;
  let refused: { token: string; error: TokenRefusedError } | undefined;
  let waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  const settleWaiters = (error?: Error) => {
    const waiting = waiters;
    waiters = [];
    waiting.forEach((waiter) => (error ? waiter.reject(error) : waiter.resolve()));
  };

  const schedule = (delayMs: number) => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void send();
    }, delayMs);
    // In Node, a pending send does not keep the process alive by itself (unless a flush() waits
    // on it): the process exits when its work is done, and sends what it holds then (beforeExit).
    if (waiters.length === 0) (timer as { unref?: () => void }).unref?.();
  };

  /** Sends `batch` with `token`, and forgets what the service settled. */
  const deliver = async (batch: PendingInteraction[], token: string, keepalive = false): Promise<Outcome> => {
    const outcome = await attempt(batch, token, keepalive);
    if (outcome.settled.size > 0) {
      buffer = buffer.filter((item) => !outcome.settled.has(item.idempotencyKey));
      await persist(() => storage.remove([...outcome.settled]));
    }
    return outcome;
  };

  /** One request with the oldest batch; then the next, or a retry after a delay. */
  const send = (): Promise<void> => {
    sending ??= (async () => {
      await loaded;
      const batch = buffer.slice(0, currentBatch);
      if (batch.length === 0) return;
      const token = await Promise.resolve()
        .then(options.getToken)
        .catch((error: unknown) => ({ failed: `getToken failed: ${error instanceof Error ? error.message : String(error)}` }));
      let outcome: Outcome;
      if (typeof token !== 'string') {
        // No token now (offline, a refresh that failed): the items wait, and it is asked again.
        outcome = { settled: new Set(), retryAfterMs: 0, reason: token.failed };
      } else if (refused?.token === token) {
        // A token the service refused is not sent again: the items wait for another one.
        outcome = { settled: new Set(), retryAfterMs: 0, reason: `token refused (HTTP ${refused.error.status})` };
      } else {
        outcome = await deliver(batch, token);
        if (outcome.refused) {
          refused = { token, error: new TokenRefusedError(outcome.refused) };
          outcome.retryAfterMs = 0;
          outcome.reason = `token refused (HTTP ${outcome.refused})`;
        } else refused = undefined;
      }
      currentBatch = outcome.shrink ? Math.max(1, Math.floor(currentBatch / 2)) : Math.min(batchSize, currentBatch * 2);
      if (outcome.retryAfterMs === undefined) {
        failures = 0;
        if (buffer.length > 0) schedule(0);
      } else {
        failures += 1;
        const backoff = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (failures - 1));
        // Full jitter, but never sooner than the service asked.
        const delay = Math.max(outcome.retryAfterMs, Math.random() * backoff);
        options.onRetry?.(outcome.reason ?? 'retry', delay);
        if (refused) settleWaiters(refused.error);
        schedule(delay);
      }
    })()
      // Anything else that throws (a callback, storage): the items stay and go again later, rather
      // than end a Node process as an unhandled rejection.
      .catch(() => schedule(maxRetryDelayMs))
      .finally(() => {
        sending = undefined;
        if (buffer.length === 0) settleWaiters();
      });
    return sending;
  };

  /** Which interactions are settled (stored, or refused for good), and whether to retry the rest. */
  async function attempt(batch: PendingInteraction[], token: string, keepalive: boolean): Promise<Outcome> {
    const settled = new Set<string>();
    let response: Response;
    try {
      response = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ sentAt: new Date().toISOString(), interactions: batch }),
        signal: AbortSignal.timeout(requestTimeoutMs),
        keepalive,
      });
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      return { settled, retryAfterMs: 0, reason: `${timedOut ? 'timeout' : 'network'}: ${(error as Error).message}`, shrink: timedOut };
    }
    const retryAfterMs = retryAfter(response.headers.get('retry-after'));
    if (response.status === 200) {
      const results = await response
        .json()
        .then((body) => (body as { results?: unknown }).results)
        .catch(() => undefined);
      // Not the service's answer (a proxy's page, a wrong baseUrl) or cut short: nothing is known
      // of the items, so they go again (their keys keep a second delivery from counting twice).
      if (!Array.isArray(results) || results.length !== batch.length || !results.every((r) => typeof r?.status === 'number'))
        return { settled, retryAfterMs: retryAfterMs ?? 0, reason: 'HTTP 200 without a result per item' };
      let limited = false;
      (results as { status: number; error?: Dropped['error'] }[]).forEach((result, i) => {
        const interaction = batch[i]!;
        if (result.status === 202) settled.add(interaction.idempotencyKey);
        else if (result.status === 429) limited = true;
        else {
          settled.add(interaction.idempotencyKey);
          options.onDrop?.({ interaction, status: result.status, error: result.error ?? { code: 'refused', message: '' } });
        }
      });
      return limited ? { settled, retryAfterMs: retryAfterMs ?? 0, reason: 'rate limited' } : { settled };
    }
    if (response.status === 413 && batch.length > 1) {
      // Too large as a whole: smaller batches may pass, and one item too large alone is dropped alone.
      return { settled, retryAfterMs: 0, reason: 'HTTP 413', shrink: true };
    }
    if (response.status === 400 || response.status === 413) {
      // The request as a whole was refused: what it carried can never pass as it is.
      const body = (await response.json().catch(() => ({}))) as { error?: Dropped['error'] };
      for (const interaction of batch) {
        settled.add(interaction.idempotencyKey);
        options.onDrop?.({ interaction, status: response.status, error: body.error ?? { code: 'refused', message: '' } });
      }
      return { settled };
    }
    if (response.status === 401 || response.status === 403) return { settled, refused: response.status };
    // 408, 429, 5xx: nothing was recorded; the batch goes again, smaller after a 408 or a 503 (its
    // upload may be what took too long).
    const shrink = response.status === 408 || response.status === 503;
    return { settled, retryAfterMs: retryAfterMs ?? 0, reason: `HTTP ${response.status}`, shrink };
  }

  /**
   * As the page goes away (hidden, or unloaded), what fits in a keepalive request is sent at once:
   * the browser finishes it after the page is gone. What it settles is forgotten if the page is
   * still there to hear the answer; otherwise it stays in storage and its key keeps it from being
   * recorded twice when sent again.
   */
  const sendAsPageLeaves = () => {
    if (!ready || buffer.length === 0) return;
    const batch: PendingInteraction[] = [];
    let bytes = 100;
    for (const item of buffer.slice(0, MAX_BATCH)) {
      bytes += JSON.stringify(item).length + 1;
      if (bytes > KEEPALIVE_BYTES) break;
      batch.push(item);
    }
    void Promise.resolve(options.getToken())
      .then((token) => (refused?.token === token ? undefined : deliver(batch, token, true)))
      .catch(() => undefined);
  };

  /** Node: when the process has nothing left to do, one last pass sends what is buffered. */
  let leaving = false;
  const sendAsProcessExits = () => {
    if (leaving || closed) return;
    leaving = true;
    void (async () => {
      await loaded;
      while (buffer.length > 0 && !refused) {
        const before = buffer.length;
        const outcome = await deliver(buffer.slice(0, currentBatch), await options.getToken());
        if (outcome.refused || buffer.length >= before) break;
      }
    })().catch(() => undefined);
  };

  const page = globalThis as {
    addEventListener?: (type: string, listener: () => void) => void;
    removeEventListener?: typeof page.addEventListener;
  };
  const nodeProcess = (
    globalThis as { process?: { on?: (event: string, listener: () => void) => void; off?: (event: string, listener: () => void) => void } }
  ).process;
  const inBrowser = typeof page.addEventListener === 'function' && 'document' in globalThis;
  const whenHidden = () => {
    if ((globalThis as { document?: { visibilityState?: string } }).document?.visibilityState === 'hidden') sendAsPageLeaves();
  };
  if (inBrowser) {
    page.addEventListener!('visibilitychange', whenHidden);
    page.addEventListener!('pagehide', sendAsPageLeaves);
  } else nodeProcess?.on?.('beforeExit', sendAsProcessExits);

  return {
    feed({ limit, cursor, kind, city, category, startsAfter, startsBefore } = {}) {
      const categories: readonly string[] = category === undefined ? [] : typeof category === 'string' ? [category] : category;
      return read<FeedPage>('/recommendations', [
        ['limit', limit],
        ['cursor', cursor],
        ['kind', kind],
        ['city', city],
        ...categories.map((c): [string, string] => ['category', c]),
        ['startsAfter', startsAfter],
        ['startsBefore', startsBefore],
      ]);
    },
    similar(eventId, { limit } = {}) {
      return read<{ items: SimilarItem[] }>(`/events/${encodeURIComponent(eventId)}/similar`, [['limit', limit]]);
    },
    track(eventId, action, { recommendationId } = {}) {
      if (closed) throw new Error('The client is closed');
      const item: PendingInteraction = {
        eventId,
        action,
        occurredAt: new Date().toISOString(),
        idempotencyKey: randomKey(),
        ...(recommendationId && { recommendationId }),
      };
      if (buffer.length >= maxBuffered) {
        const overflow = buffer.splice(0, buffer.length - maxBuffered + 1);
        void persist(() => storage.remove(overflow.map((dropped) => dropped.idempotencyKey)));
        options.onOverflow?.(overflow);
      }
      buffer.push(item);
      void persist(() => storage.add([item]));
      if (buffer.length >= batchSize && !sending && !refused) void send();
      else schedule(flushIntervalMs);
    },
    async flush() {
      await loaded;
      if (buffer.length === 0) return;
      const emptied = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (!sending) void send();
      await emptied;
    },
    async close() {
      closed = true;
      if (inBrowser) {
        page.removeEventListener!('visibilitychange', whenHidden);
        page.removeEventListener!('pagehide', sendAsPageLeaves);
      } else nodeProcess?.off?.('beforeExit', sendAsProcessExits);
      if (timer) clearTimeout(timer);
      timer = undefined;
      await sending;
      await loaded;
      if (buffer.length > 0) await send();
      await writes;
      settleWaiters(refused?.error ?? new Error('The client is closed'));
    },
    get pending() {
      return buffer.length;
    },
  };
}

function retryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function randomKey(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}
