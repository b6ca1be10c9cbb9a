import { Router } from 'express';
import type { GigApplicationModel } from '../../data/models';
import { applyToGig, getOwnApplication } from '../../domain/gig-applications';
import { readBy } from '../../ops/deadline';
import type { AppDeps } from '../deps';
import { currentUser } from '../auth';
import { requestLogger } from '../request-context';
import { optionalJsonBody } from '../json-body';
import { idParam, parseInput } from '../validate';
import { applicationBody, type gigApplicationResponse, type Json } from '../schemas';

export function gigsRouter({ db, outboxRelay, rankingCache }: Pick<AppDeps, 'db' | 'outboxRelay' | 'rankingCache'>): Router {
  const router = Router();

  router.post('/gigs/:eventId/applications', ...optionalJsonBody, async (req, res) => {
    const { message } = parseInput(applicationBody, req.body ?? {});
    const application = await applyToGig(
      { db, relay: outboxRelay, feed: rankingCache, logger: requestLogger(req) },
      currentUser(req).id,
      idParam(req, 'eventId'),
      message ?? null,
      req.deadline,
    );
    res.status(201).json(toJson(application));
  });

  router.get('/gigs/:eventId/applications/me', async (req, res) => {
    res.json(toJson(await readBy(getOwnApplication(db, currentUser(req).id, idParam(req, 'eventId')), req.deadline)));
  });

  return router;
}

function toJson(application: GigApplicationModel): Json<typeof gigApplicationResponse> {
  return {
    id: application.id,
    eventId: application.eventId,
    status: application.status,
    message: application.message,
    createdAt: application.createdAt.toISOString(),
  };
}
