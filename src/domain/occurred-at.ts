import { ValidationError } from '../errors';

/** How far past its receipt a corrected time may lie (clock noise, not a client from the future). */
export const OCCURRED_AHEAD_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

/**
 * When the user acted, on the server's clock. A client's clock may be wrong by minutes or years; if
 * it says when it sent the request (`sentAt`), the skew is taken out: the user acted `sentAt −
 * occurredAt` before the request arrived. Without `sentAt`, `occurredAt` is taken as it is. The
 * result must lie within the last `maxAgeDays` and at most five minutes after receipt; otherwise a
 * 400 `occurred_at_out_of_range`, and the interaction is not recorded. No `occurredAt`: undefined
 * (the acceptance time stands for it).
 */
export function resolveOccurredAt(client: { occurredAt?: Date; sentAt?: Date }, receivedAt: Date, maxAgeDays: number): Date | undefined {
  if (!client.occurredAt) return undefined;
  const occurred = client.sentAt
    ? new Date(receivedAt.getTime() - (client.sentAt.getTime() - client.occurredAt.getTime()))
    : client.occurredAt;
  const earliest = receivedAt.getTime() - maxAgeDays * DAY_MS;
  const latest = receivedAt.getTime() + OCCURRED_AHEAD_MS;
  if (occurred.getTime() < earliest || occurred.getTime() > latest) {
    throw new ValidationError(
      `occurredAt${client.sentAt ? ' (corrected by sentAt)' : ''} is ${occurred.toISOString()}: it must lie within the last ${maxAgeDays} days and at most 5 minutes after the request arrived`,
      { code: 'occurred_at_out_of_range' },
    );
  }
  return occurred;
}
