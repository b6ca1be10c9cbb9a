import { spell } from '../../src/domain/model';
import { filterPredicate, filterScope } from '../../src/feed/filter';

describe('feed filters', () => {
  test('one spelling of a filter is one ranking', () => {
    expect(filterScope({})).toBe('');
    expect(filterScope({ categories: [] })).toBe('');
    expect(filterScope({ categories: ['Jazz', ' rock'] })).toBe(filterScope({ categories: ['ROCK', 'jazz', 'jazz'] }));
    expect(filterScope({ city: 'Munich' })).not.toBe(filterScope({ city: 'Berlin' }));
    expect(filterScope({ kind: 'gig' })).not.toBe(filterScope({ kind: 'gig', startsAfter: new Date(0) }));
  });

  test('an event passes when it meets every condition, cities and categories in any case, the times exclusive', () => {
    const at = new Date('2026-12-11T18:00:00Z');
    const passes = filterPredicate({
      kind: 'gig',
      city: ' munich',
      categories: ['Jazz', 'blues'],
      startsAfter: new Date(at.getTime() - 1),
    });
    expect(passes({ kind: 'gig', city: 'Munich ', category: 'JAZZ', startsAt: at })).toBe(true);
    expect(passes({ kind: 'event', city: 'Munich', category: 'jazz', startsAt: at })).toBe(false);
    expect(passes({ kind: 'gig', city: 'Berlin', category: 'jazz', startsAt: at })).toBe(false);
    expect(passes({ kind: 'gig', city: 'Munich', category: null, startsAt: at })).toBe(false);
    expect(filterPredicate({ startsBefore: at })({ startsAt: at })).toBe(false);
    expect(filterPredicate({ startsAfter: at })({ startsAt: at })).toBe(false);
    expect(filterPredicate({})({})).toBe(true);
  });

  test("names are spelled one character at a time, as PostgreSQL's lower() spells them", () => {
    // toLowerCase alone: "i̇stanbul" (i and a combining dot) and "αθηνας" (a final sigma).
    expect(spell(' İSTANBUL ')).toBe('istanbul');
    expect(spell('ΑΘΗΝΑΣ')).toBe('αθηνασ');
    expect(spell('München')).toBe('münchen');
    expect(filterPredicate({ city: 'İstanbul' })({ city: 'ISTANBUL' })).toBe(true);
  });
});
