// Load generators: autocannon for closed-loop throughput, a plain concurrent client for untimed
// filling, and an open-loop sender that keeps a fixed rate whatever the server's latency.
import http from 'node:http';
import autocannon from 'autocannon';

export interface LoadRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface ClosedLoopResult {
  seconds: number;
  requests: number;
  reqPerS: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  statusCounts: Record<string, number>;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/**
 * Autocannon at fixed concurrency; `next` gives each request its own headers and body, so that
 * many users and events are exercised. Latencies are of 2xx answers (autocannon's histogram).
 */
export async function closedLoop(options: {
  url: string;
  connections: number;
  durationS: number;
  next: () => LoadRequest;
}): Promise<ClosedLoopResult> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationS,
    timeout: 10,
    requests: [
      {
        // Every request, the first included, is built by setupRequest: these defaults are never sent.
        method: 'GET',
        path: '/',
        setupRequest: (request) => {
          const req = options.next();
          return { ...request, method: req.method, path: req.path, headers: req.headers, body: req.body };
        },
      },
    ],
  });
  const statusCounts = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count ?? 0]));
  const requests = Object.values(statusCounts).reduce((a, b) => a + b, 0);
  return {
    seconds: result.duration,
    requests,
    reqPerS: requests / result.duration,
    p50Ms: result.latency.p50,
    p90Ms: result.latency.p90,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    statusCounts,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

export function keepAliveAgent(maxSockets: number): http.Agent {
  // Idle sockets are dropped before the server's 5 s keep-alive timeout, so that a request is
  // never written to a socket the server is closing.
  // Free sockets are all kept (the default keeps 256), so a burst does not reopen connections.
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: 4000 });
}

export interface Answer {
  status: number;
  body: string;
}

export function send(agent: http.Agent, base: URL, req: LoadRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = req.body === undefined ? req.headers : { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) };
    const outgoing = http.request({ agent, host: base.hostname, port: base.port, method: req.method, path: req.path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    outgoing.setTimeout(10_000, () => outgoing.destroy(new Error('timeout')));
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

/** Sends `count` requests, `concurrency` at a time, untimed: for filling a backlog. */
export async function sendMany(base: URL, count: number, concurrency: number, next: () => LoadRequest): Promise<Record<string, number>> {
  const agent = keepAliveAgent(concurrency);
  const statusCounts: Record<string, number> = {};
  let started = 0;
  const lane = async () => {
    while (started < count) {
      started += 1;
      const status = await send(agent, base, next()).then(
        (answer) => String(answer.status),
        () => 'error',
      );
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  agent.destroy();
  return statusCounts;
}

export interface OpenLoopSample {
  /** performance.now() when the 202 arrived. */
  arrivedAt: number;
  answer: Answer;
}

export interface OpenLoopResult {
  sent: number;
  /** From the first recorded send to the last answer: the window the achieved rate is taken over. */
  seconds: number;
  statusCounts: Record<string, number>;
  /** From each request's scheduled send time, so a stalled server cannot hide its backlog (no coordinated omission). */
  latenciesMs: number[];
}

/**
 * Sends at `rate` per second, each request at its scheduled time whether or not earlier ones were
 * answered: first for `warmupS` (connections opened, code warmed; nothing recorded), then for
 * `durationS`, whose answers are recorded and passed to `onAnswer` as they arrive.
 */
export async function openLoop(options: {
  base: URL;
  rate: number;
  warmupS: number;
  durationS: number;
  next: () => LoadRequest;
  onAnswer: (index: number, sample: OpenLoopSample) => void;
}): Promise<OpenLoopResult> {
  const agent = keepAliveAgent(1024);
  const warmup = Math.round(options.rate * options.warmupS);
  const total = warmup + Math.round(options.rate * options.durationS);
  const interval = 1000 / options.rate;
  const statusCounts: Record<string, number> = {};
  const latenciesMs: number[] = [];
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  const recordFrom = start + warmup * interval;
  let sent = 0;
  let lastAnswerAt = recordFrom;
  while (sent < total) {
    const now = performance.now();
    // Catch up on everything due (the timer fires about every millisecond, the rate may be higher).
    while (sent < total && start + sent * interval <= now) {
      const index = sent - warmup;
      const scheduled = start + sent * interval;
      sent += 1;
      const answered = send(agent, options.base, options.next());
      if (index < 0) {
        inFlight.push(answered.then(noop, noop));
        continue;
      }
      inFlight.push(
        answered.then(
          (answer) => {
            const arrivedAt = performance.now();
            lastAnswerAt = arrivedAt;
            statusCounts[answer.status] = (statusCounts[answer.status] ?? 0) + 1;
            if (answer.status >= 200 && answer.status < 300) latenciesMs.push(arrivedAt - scheduled);
            options.onAnswer(index, { arrivedAt, answer });
          },
          () => {
            statusCounts.error = (statusCounts.error ?? 0) + 1;
          },
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
  agent.destroy();
  return { sent: total - warmup, seconds: (lastAnswerAt - recordFrom) / 1000, statusCounts, latenciesMs };
}

const noop = () => undefined;

export interface Distribution {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles; undefined when there are no values. */
export function distribution(values: number[]): Distribution | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}
