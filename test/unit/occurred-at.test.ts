import { resolveOccurredAt } from '../../src/domain/occurred-at';

const received = new Date('2026-11-30T12:00:00.000Z');
const at = (iso: string) => new Date(iso);
const outOfRange = expect.objectContaining({ status: 400, code: 'occurred_at_out_of_range' });

describe('when the user acted', () => {
  test('no occurredAt: none (the acceptance time stands for it)', () => {
    expect(resolveOccurredAt({}, received, 7)).toBeUndefined();
    expect(resolveOccurredAt({ sentAt: at('2026-11-30T11:00:00Z') }, received, 7)).toBeUndefined();
  });

  test('without sentAt, occurredAt is taken as it is', () => {
    expect(resolveOccurredAt({ occurredAt: at('2026-11-30T11:58:00Z') }, received, 7)).toEqual(at('2026-11-30T11:58:00Z'));
  });

  test("with sentAt, the client's skew is taken out: received − (sentAt − occurredAt)", () => {
    // A phone whose clock is a year behind recorded a view 3 minutes before it sent it.
    const phone = { occurredAt: at('2025-11-30T08:57:00Z'), sentAt: at('2025-11-30T09:00:00Z') };
    expect(resolveOccurredAt(phone, received, 7)).toEqual(at('2026-11-30T11:57:00Z'));
  });

  test('refused with occurred_at_out_of_range: older than the allowed age, or more than 5 minutes ahead of receipt', () => {
    expect(() => resolveOccurredAt({ occurredAt: at('2026-11-23T11:59:59Z') }, received, 7)).toThrow(outOfRange);
    expect(() => resolveOccurredAt({ occurredAt: at('2026-11-30T12:05:01Z') }, received, 7)).toThrow(outOfRange);
    // Its own clock says a day ago, but it sent the request 8 days after: 8 days before receipt.
    expect(() => resolveOccurredAt({ occurredAt: at('2026-11-22T00:00:00Z'), sentAt: at('2026-11-30T00:00:00Z') }, received, 7)).toThrow(
      outOfRange,
    );
  });

  test('the bounds themselves are accepted', () => {
    expect(resolveOccurredAt({ occurredAt: at('2026-11-23T12:00:00Z') }, received, 7)).toEqual(at('2026-11-23T12:00:00Z'));
    expect(resolveOccurredAt({ occurredAt: at('2026-11-30T12:05:00Z') }, received, 7)).toEqual(at('2026-11-30T12:05:00Z'));
  });
});
