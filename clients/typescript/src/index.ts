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
}

/** Where the buffer lives between sends. Saving must be durable when it returns (or resolves). */
export interface BufferStorage {
  load(): PendingInteraction[] | Promise<PendingInteraction[]>;
  save(items: PendingInteraction[]): void | Promise<void>;
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
  /** Interactions per request, 1 to 500 (default 100). */
  batchSize?: number;
  /** How long a tracked interaction may wait for others to join its batch (default 1000 ms). */
  flushIntervalMs?: number;
  /** First retry delay, doubled on each failure up to maxRetryDelayMs, with jitter (default 1000 ms). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Told of each interaction the service refused for good. */
  onDrop?: (dropped: Dropped) => void;
  /** Told of each failed attempt that will be retried (network error, 429, 5xx). */
  onRetry?: (reason: string, delayMs: number) => void;
  fetch?: typeof fetch;
}

export interface Client {
  /** Buffers an interaction and returns at once; it is sent with the next batch. */
  track(eventId: string, action: Action): void;
  /** Resolves once every interaction tracked so far is stored by the service or dropped. */
  flush(): Promise<void>;
  /** Stops sending after one last attempt; what is still buffered stays in storage for next time. */
  close(): Promise<void>;
  /** Interactions not yet acknowledged. */
  readonly pending: number;
}

/** Keeps the buffer in memory: lost when the process or page goes. */
export function memoryBuffer(): BufferStorage {
  let items: PendingInteraction[] = [];
  return { load: () => items, save: (next) => void (items = next) };
}

/** Keeps the buffer in the browser's localStorage (survives reloads). */
export function localStorageBuffer(key = 'interaction-tracking:buffer'): BufferStorage {
  const store = (globalThis as { localStorage?: { getItem(key: string): string | null; setItem(key: string, value: string): void } })
    .localStorage;
  if (!store) throw new Error('localStorage is not available here; use memoryBuffer() or fileBuffer()');
  return {
    load: () => JSON.parse(store.getItem(key) ?? '[]') as PendingInteraction[],
    save: (items) => store.setItem(key, JSON.stringify(items)),
  };
}

const MAX_BATCH = 500;

export function createClient(options: ClientOptions): Client {
  const storage = options.storage ?? memoryBuffer();
  const batchSize = Math.min(Math.max(1, options.batchSize ?? 100), MAX_BATCH);
  const flushIntervalMs = options.flushIntervalMs ?? 1000;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 60_000;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const url = `${options.baseUrl.replace(/\/+$/, '')}/interactions/batch`;

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
  let writes: Promise<void> | undefined; // the chain of an asynchronous storage's saves
  const persist = (): Promise<void> => {
    if (!ready) return loaded.then(persist);
    const snapshot = buffer.slice();
    if (writes) return (writes = writes.then(() => storage.save(snapshot)));
    const result = storage.save(snapshot);
    if (result && typeof result.then === 'function') writes = result;
    return Promise.resolve(result);
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending: Promise<void> | undefined;
  let failures = 0;
  let closed = false;
  let waiters: (() => void)[] = [];

  const schedule = (delayMs: number) => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void send();
    }, delayMs);
  };

  /** One request with the oldest batch; then the next, or a retry after a delay. */
  const send = (): Promise<void> => {
    sending ??= (async () => {
      await loaded;
      const batch = buffer.slice(0, batchSize);
      if (batch.length === 0) return;
      const outcome = await attempt(batch);
      if (outcome.settled.size > 0) {
        buffer = buffer.filter((item) => !outcome.settled.has(item.idempotencyKey));
        await persist();
      }
      if (outcome.retryAfterMs === undefined) {
        failures = 0;
        if (buffer.length > 0) schedule(0);
      } else {
        failures += 1;
        const backoff = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (failures - 1));
        // Full jitter, but never sooner than the service asked.
        const delay = Math.max(outcome.retryAfterMs, Math.random() * backoff);
        options.onRetry?.(outcome.reason ?? 'retry', delay);
        schedule(delay);
      }
    })().finally(() => {
      sending = undefined;
      if (buffer.length === 0) {
        const done = waiters;
        waiters = [];
        done.forEach((resolve) => resolve());
      }
    });
    return sending;
  };

  /** Which interactions are settled (stored, or refused for good), and whether to retry the rest. */
  async function attempt(batch: PendingInteraction[]): Promise<{ settled: Set<string>; retryAfterMs?: number; reason?: string }> {
    const settled = new Set<string>();
    let response: Response;
    try {
      response = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await options.getToken()}` },
        body: JSON.stringify({ sentAt: new Date().toISOString(), interactions: batch }),
      });
    } catch (error) {
      return { settled, retryAfterMs: 0, reason: `network: ${(error as Error).message}` };
    }
    const retryAfterMs = retryAfter(response.headers.get('retry-after'));
    if (response.status === 200) {
      const { results } = (await response.json()) as { results: { status: number; error?: Dropped['error'] }[] };
      let limited = false;
      results.forEach((result, i) => {
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
    if (response.status === 400 || response.status === 413) {
      // The request as a whole was refused: what it carried can never pass as it is.
      const body = (await response.json().catch(() => ({}))) as { error?: Dropped['error'] };
      for (const interaction of batch) {
        settled.add(interaction.idempotencyKey);
        options.onDrop?.({ interaction, status: response.status, error: body.error ?? { code: 'refused', message: '' } });
      }
      return { settled };
    }
    // 401 (a token to refresh), 429, 5xx: nothing was recorded; the same batch goes again.
    return { settled, retryAfterMs: retryAfterMs ?? 0, reason: `HTTP ${response.status}` };
  }

  return {
    track(eventId, action) {
      if (closed) throw new Error('The client is closed');
      buffer.push({ eventId, action, occurredAt: new Date().toISOString(), idempotencyKey: randomKey() });
      void persist();
      if (buffer.length >= batchSize && !sending) void send();
      else schedule(flushIntervalMs);
    },
    async flush() {
      await loaded;
      if (buffer.length === 0) return;
      const emptied = new Promise<void>((resolve) => waiters.push(resolve));
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (!sending) void send();
      await emptied;
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await sending;
      await loaded;
      if (buffer.length > 0) await send();
      await persist();
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
