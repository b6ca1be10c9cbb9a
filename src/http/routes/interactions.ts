import { Router } from 'express';
import { recordInteraction } from '../../domain/record-interaction';
import type { AppDeps } from '../deps';
import { currentUser } from '../auth';
import { requestLogger } from '../request-context';
import { jsonBody } from '../json-body';
import { parseInput } from '../validate';
import { type acceptedInteraction, idempotencyKey, interactionBody, type Json } from '../schemas';

export function interactionsRouter({
  eventExists,
  producer,
  rankingCache,
}: Pick<AppDeps, 'eventExists' | 'producer' | 'rankingCache'>): Router {
  const router = Router();

  router.post('/interactions', ...jsonBody, async (req, res) => {
    const body = parseInput(interactionBody, req.body);
    const key = parseInput(idempotencyKey, req.get('idempotency-key'));
    const accepted = await recordInteraction(
      { eventExists, producer, feed: rankingCache, logger: requestLogger(req) },
      {
        userId: currentUser(req).id,
        eventId: body.eventId,
        action: body.action,
        source: 'api',
        idempotencyKey: key,
        deadline: req.deadline,
      },
    );
    const answer: Json<typeof acceptedInteraction> = {
      id: accepted.id,
      eventId: accepted.eventId,
      action: accepted.action,
      status: 'queued',
    };
    res.status(202).json(answer);
  });

  return router;
}
