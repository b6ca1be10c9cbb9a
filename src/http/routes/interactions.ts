import type { IncomingMessage } from 'node:http';
import { Router } from 'express';
import { resolveOccurredAt } from '../../domain/occurred-at';
import { recordInteraction, recordInteractions, type InteractionInput } from '../../domain/record-interaction';
import { AppError, TooManyRequestsError, ValidationError } from '../../errors';
import { assignVariant } from '../../feed/experiment';
import type { RecordInteractionPayload } from '../../jobs/definitions';
import type { AppDeps } from '../deps';
import { currentUser } from '../auth';
import { requestLogger } from '../request-context';
import { jsonBody, jsonBodyUpTo } from '../json-body';
import { parseInput } from '../validate';
import {
  type acceptedInteraction,
  batchEnvelope,
  batchItem,
  type batchResponse,
  idempotencyKey,
  interactionBody,
  type Json,
  MAX_BATCH_ITEMS,
} from '../schemas';

/**
 * The largest body a batch can need: MAX_BATCH_ITEMS of the largest items the schema allows, written
 * compactly (as JSON.stringify writes them): an id of 200 characters (code points, as the schema
 * counts them), each a control character escaped in six bytes (an unknown id is a 404 of its own,
 * not a refusal of the batch); a key of 200 visible characters each escaped; a time with an offset;
 * a recommendationId of 200 characters of four bytes each in UTF-8. Anything larger is refused (413)
 * before it is parsed.
 */
const BATCH_BODY_LIMIT =
  MAX_BATCH_ITEMS *
    (Buffer.byteLength(
      JSON.stringify({
        eventId: '\u0001'.repeat(200),
        action: 'DISMISS',
        occurredAt: '2026-11-30T09:15:00.123456+05:30',
        idempotencyKey: '"'.repeat(200),
        recommendationId: '\u{1f600}'.repeat(200),
      }),
    ) +
      1) +
  JSON.stringify({ sentAt: '2026-11-30T09:15:00.123456+05:30', interactions: [] }).length;

type BatchResult = Json<typeof batchResponse>['results'][number];

export function interactionsRouter({
  eventExists,
  producer,
  rankingCache,
  rateLimiter,
  config,
  metrics,
}: Pick<AppDeps, 'eventExists' | 'producer' | 'rankingCache' | 'rateLimiter' | 'config' | 'metrics'>): Router {
  const router = Router();
  const maxAgeDays = config.interactionMaxAgeDays;

  const accept = interactionAcceptor({ eventExists, producer, rankingCache, config, metrics });
  const engaged = feedEngagementCounter(config, metrics);
  router.post('/interactions', ...jsonBody, async (req, res) => {
    res.status(202).json(await accept(req, req.body));
  });

  // Each item is answered on its own (202, or 400/404/429 with an error); those accepted are stored
  // in Redis together before the 200, or none is (503).
  router.post('/interactions/batch', ...jsonBodyUpTo(BATCH_BODY_LIMIT), async (req, res) => {
    // Read nowhere on a batch: a client sending it would believe its retries safe.
    if (req.headers['idempotency-key'] !== undefined) {
      throw new ValidationError('Idempotency-Key: a batch takes a key per item (interactions[].idempotencyKey), not the header');
    }
    const receivedAt = new Date();
    const { sentAt, interactions } = parseInput(batchEnvelope, req.body);
    const userId = currentUser(req).id;
    // The request's own count (the rate-limit middleware, before the body) was its first item's.
    const more = await rateLimiter.take(userId, 'writes', interactions.length - 1, req.deadline);
    const granted = 1 + more.granted;
    const { retryAfterS } = more;

    const results: (BatchResult | undefined)[] = [];
    const inputs: { index: number; input: Omit<InteractionInput, 'deadline'> }[] = [];
    interactions.forEach((raw, index) => {
      if (index >= granted) return void (results[index] = refused(new TooManyRequestsError(retryAfterS, 'writes')));
      try {
        const item = parseInput(batchItem, raw);
        const occurredAt = resolveOccurredAt({ occurredAt: item.occurredAt, sentAt }, receivedAt, maxAgeDays);
        inputs.push({
          index,
          input: {
            userId,
            eventId: item.eventId,
            action: item.action,
            source: 'api',
            idempotencyKey: item.idempotencyKey,
            occurredAt,
            recommendationId: item.recommendationId,
          },
        });
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        results[index] = refused(error);
      }
    });

    const outcomes = await recordInteractions(
      { eventExists, producer, feed: rankingCache, logger: requestLogger(req) },
      inputs.map((i) => i.input),
      req.deadline,
    );
    outcomes.forEach((outcome, i) => {
      results[inputs[i]!.index] =
        outcome instanceof AppError ? refused(outcome) : { status: 202, id: outcome.id, eventId: outcome.eventId, action: outcome.action };
    });
    engaged(userId, outcomes);
    if (granted < interactions.length) res.set('Retry-After', String(retryAfterS));
    const answer: Json<typeof batchResponse> = { results: results as BatchResult[] };
    res.status(200).json(answer);
  });

  return router;
}

/**
 * POST /interactions once its body is read (here and on the plain ingest path, ingest-path.ts): the
 * 202's body, once the interaction is queued; an AppError otherwise.
 */
export function interactionAcceptor({
  eventExists,
  producer,
  rankingCache,
  config,
  metrics,
}: Pick<AppDeps, 'eventExists' | 'producer' | 'rankingCache' | 'config' | 'metrics'>) {
  const maxAgeDays = config.interactionMaxAgeDays;
  const engaged = feedEngagementCounter(config, metrics);
  return async (req: IncomingMessage, rawBody: unknown): Promise<Json<typeof acceptedInteraction>> => {
    const receivedAt = new Date();
    const body = parseInput(interactionBody, rawBody);
    const header = parseInput(idempotencyKey, req.headers['idempotency-key']);
    // A client that builds one item for both endpoints sends the key in the body: it is the same key.
    if (header !== undefined && body.idempotencyKey !== undefined && header !== body.idempotencyKey) {
      throw new ValidationError('idempotencyKey: differs from the Idempotency-Key header; send one key, in either place');
    }
    const key = header ?? body.idempotencyKey;
    const accepted = await recordInteraction(
      { eventExists, producer, feed: rankingCache, logger: requestLogger(req) },
      {
        userId: currentUser(req).id,
        eventId: body.eventId,
        action: body.action,
        source: 'api',
        idempotencyKey: key,
        occurredAt: resolveOccurredAt({ occurredAt: body.occurredAt }, receivedAt, maxAgeDays),
        recommendationId: body.recommendationId,
        deadline: req.deadline,
      },
    );
    engaged(accepted.userId, [accepted]);
    return { id: accepted.id, eventId: accepted.eventId, action: accepted.action, status: 'queued' };
  };
}

/** Counts accepted interactions that name a feed page (feed_engagements_total), by the user's variant. */
function feedEngagementCounter(config: AppDeps['config'], metrics: AppDeps['metrics']) {
  return (userId: string, outcomes: readonly (RecordInteractionPayload | AppError)[]) => {
    for (const outcome of outcomes) {
      if (outcome instanceof AppError || !outcome.recommendationId) continue;
      metrics.feedEngagements.inc({ variant: assignVariant(config.feedVariants, userId).name, action: outcome.action });
    }
  };
}

function refused(error: AppError): BatchResult {
  return { status: error.status as 400 | 404 | 429, error: { code: error.code, message: error.message } };
}
