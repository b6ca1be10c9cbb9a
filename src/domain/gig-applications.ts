import { findEvent } from '../data/events';
import { findGigApplication, insertGigApplication } from '../data/gig-applications';
import type { Db } from '../data/db';
import type { GigApplicationModel } from '../data/models';
import { conflictOnDuplicate, NotFoundError } from '../errors';
import type { TransactionalDeps } from './collections';
import { isUuid } from './ids';
import { hideFromFeed, recordInteractionInTransaction, type RecordInteractionDeps } from './record-interaction';

const gigNotFound = () => new NotFoundError('Gig not found', { code: 'gig_not_found' });

/** Files the user's application and records an APPLY (source `gig_application`) in the same transaction. */
export async function applyToGig(
  deps: TransactionalDeps & Pick<RecordInteractionDeps, 'feed' | 'logger'>,
  userId: string,
  eventId: string,
  message: string | null,
  deadline: number,
): Promise<GigApplicationModel> {
  if (!isUuid(eventId)) throw gigNotFound();
  const application = await deps.db.transaction(async (trx) => {
    const event = await findEvent(trx, eventId);
    if (!event || event.kind !== 'gig') throw gigNotFound();
    const filed = await insertGigApplication(trx, { eventId, userId, message }).catch(
      conflictOnDuplicate('You have already applied to this gig', 'already_applied'),
    );
    await recordInteractionInTransaction(trx, { userId, eventId, action: 'APPLY', source: 'gig_application' });
    return filed;
  });
  deps.relay.kick();
  await hideFromFeed(deps, userId, eventId, deadline);
  return application;
}

export async function getOwnApplication(db: Db, userId: string, eventId: string): Promise<GigApplicationModel> {
  const application = isUuid(eventId) ? await findGigApplication(db, eventId, userId) : undefined;
  if (!application) throw new NotFoundError('No application to this gig', { code: 'application_not_found' });
  return application;
}
