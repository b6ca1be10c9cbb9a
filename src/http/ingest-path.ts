import type { IncomingMessage, ServerResponse } from 'node:http';
import { corsHeaders } from './cors';
import type { AppDeps } from './deps';
import type { errorResponder } from './errors';
import { BODY_LIMIT, jsonTypeProblem, readJsonBody } from './json-body';
import { runSteps, type Step } from './pipeline';
import { requestTracker } from './request-context';
import { interactionAcceptor } from './routes/interactions';

const PATH = '/interactions';

/**
 * POST /interactions, the API's hot path, served on Node's request and response rather than through
 * Express: Express's dispatch and its request and response objects cost more CPU than everything
 * this route does (docs/performance.md). It takes the Express route's
 * way, from the same pieces and with the same answers: the request's context, CORS, the API's steps
 * (the one list the app mounts too: src/http/pipeline.ts), the content type, the one body reader,
 * the route, and errors through the app's one error responder. A request in any other form
 * (another method or path, a query string, a compressed or chunked body, a body over the limit)
 * goes to Express.
 */
export function plainIngestPath(
  deps: AppDeps,
  shared: { errors: ReturnType<typeof errorResponder>; steps: readonly Step[]; draining: () => boolean },
) {
  const { errors, steps } = shared;
  const track = requestTracker({
    logger: deps.logger,
    metrics: deps.metrics,
    budgetMs: deps.config.enqueueTimeoutMs,
    bodyTimeoutMs: deps.config.bodyTimeoutMs,
    draining: shared.draining,
  });
  const shareWithOrigin = corsHeaders(deps.config.corsOrigins);
  const accept = interactionAcceptor(deps);
  // The metrics label, as Express gives it: the route's once the request reached it (past the
  // steps), `unmatched` for one refused before.
  const routed = new WeakSet<IncomingMessage>();
  const route = (req: IncomingMessage) => (routed.has(req) ? PATH : 'unmatched');

  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      await runSteps(steps, req, res);
      routed.add(req);
      const typeProblem = jsonTypeProblem(req.headers['content-type']);
      if (typeProblem) throw typeProblem;
      send(res, 202, await accept(req, await readJsonBody(req, BODY_LIMIT)));
    } catch (error) {
      const { status, headers, body } = errors.report(error, req);
      if (res.headersSent) return void res.destroy(); // as Express ends an answer that failed midway
      send(res, status, body, headers);
    }
  };

  return {
    /** Whether a request is one this path serves; decided before anything of it is read. */
    takes(req: IncomingMessage): boolean {
      if (req.method !== 'POST' || req.url !== PATH) return false;
      const { 'content-length': length, 'content-encoding': encoding, 'transfer-encoding': chunked } = req.headers;
      return length !== undefined && Number(length) <= BODY_LIMIT && encoding === undefined && chunked === undefined;
    },
    serve(req: IncomingMessage, res: ServerResponse): void {
      track(req, res, PATH, route);
      shareWithOrigin(req, PATH, res);
      void answer(req, res);
    },
  };
}

/** A JSON answer, with the headers Express's res.json would give it. */
function send(res: ServerResponse, status: number, body: object, headers: Readonly<Record<string, string>> = {}): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  for (const name in headers) res.setHeader(name, headers[name]!);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(Buffer.byteLength(json)));
  res.end(json);
}
