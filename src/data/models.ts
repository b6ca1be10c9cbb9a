import { Model } from 'objection';
import type { Action } from '../domain/weights';

export type InteractionSource = 'api' | 'collection' | 'gig_application';
/** Every kind an event may be (the table's check constraint says the same). */
export const EVENT_KINDS = ['event', 'gig'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export class EventModel extends Model {
  static override tableName = 'events';

  id!: string;
  title!: string;
  startsAt!: Date;
  kind!: EventKind;
  category!: string | null;
  tags!: string[];
  city!: string | null;
  ticketUrl!: string | null;
  organizerId!: string;
  createdAt!: Date;
}

/** One row per accepted interaction; the database rejects UPDATE, DELETE and TRUNCATE. */
export class InteractionModel extends Model {
  static override tableName = 'interactions';

  id!: string;
  userId!: string;
  eventId!: string;
  action!: Action;
  source!: InteractionSource;
  createdAt!: Date;
  persistedAt!: Date;
}

/** The running weighted score of one (user, event) pair. */
export class UserEventScoreModel extends Model {
  static override tableName = 'user_event_scores';
  static override idColumn = ['userId', 'eventId'];

  userId!: string;
  eventId!: string;
  score!: number;
  interactionCount!: number;
  lastInteractionAt!: Date;
  updatedAt!: Date;
}

export class CollectionModel extends Model {
  static override tableName = 'collections';

  id!: string;
  userId!: string;
  name!: string;
  createdAt!: Date;
}

export class CollectionEventModel extends Model {
  static override tableName = 'collection_events';
  static override idColumn = ['collectionId', 'eventId'];

  collectionId!: string;
  eventId!: string;
  addedAt!: Date;
}

export class GigApplicationModel extends Model {
  static override tableName = 'gig_applications';

  id!: string;
  eventId!: string;
  userId!: string;
  message!: string | null;
  status!: 'submitted' | 'accepted' | 'rejected' | 'withdrawn';
  createdAt!: Date;
}
