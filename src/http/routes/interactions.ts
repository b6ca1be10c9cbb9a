import { Router } from 'express';
import { z } from 'zod';
import { recordInteraction } from '../../domain/record-interaction';
import { ACTIONS } from '../../domain/weights';
import type { AppDeps } from '../deps';
import { currentUser } from '../auth';
import { requestLogger } from '../request-context';
import { jsonBody } from '../json-body';
import { idField, parseInput } from '../validate';

// Unknown keys (a `userId`, say) are dropped: the user is always the token's subject.
const interactionBody = z.object(
  {
    eventId: idField(),
    action: z.enum(ACTIONS, { error: `must be one of ${ACTIONS.join(', ')}` }),
  },
  { error: 'The body must be a JSON object' },
);

const idempotencyKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,200}$/, 'Idempotency-Key must be 1 to 200 visible ASCII characters')
  .optional();

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
    res.status(202).json({ id: accepted.id, eventId: accepted.eventId, action: accepted.action, status: 'queued' });
  });

  return router;
}
