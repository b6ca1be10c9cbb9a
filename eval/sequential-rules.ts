import { POSITIVE_ACTIONS } from '../src/domain/model';
import type { EvalInteraction } from './data';

/** The reference's settings (../shared/data's README): pairs up to 20 steps apart, the latest 5 positives. */
const WINDOW = 20;
const LATEST = 5;

/**
 * Sequential rules (Ludewig & Jannach 2018), the sequential baseline: each time a user is positive
 * about an event, each of their WINDOW previous positive events gains a rule towards it weighted
 * 1 / gap (in steps); a user's score for an event is the sum, over their LATEST latest positive
 * events (1 / distance, the latest at 1), of the rules from them to it. Learnt as the replay goes,
 * so it knows what the feed knows; a tie is broken by popularity (positive users), as in the
 * reference.
 */
export class SequentialRules {
  private readonly sequences = new Map<string, string[]>();
  private readonly rules = new Map<string, Map<string, number>>();
  private readonly positiveUsers = new Map<string, Set<string>>();

  learn({ userId, eventId, action }: EvalInteraction): void {
    if (!POSITIVE_ACTIONS.includes(action)) return;
    const sequence = this.sequences.get(userId) ?? [];
    this.sequences.set(userId, sequence);
    for (let gap = 1; gap <= WINDOW && gap <= sequence.length; gap += 1) {
      const from = sequence[sequence.length - gap]!;
      const row = this.rules.get(from) ?? new Map<string, number>();
      this.rules.set(from, row);
      row.set(eventId, (row.get(eventId) ?? 0) + 1 / gap);
    }
    sequence.push(eventId);
    const users = this.positiveUsers.get(eventId) ?? new Set<string>();
    users.add(userId);
    this.positiveUsers.set(eventId, users);
  }

  /** The rules' sum for each event they reach from the user's latest positives. */
  scores(userId: string): Map<string, number> {
    const sequence = this.sequences.get(userId) ?? [];
    const scores = new Map<string, number>();
    for (let distance = 1; distance <= LATEST && distance <= sequence.length; distance += 1) {
      for (const [to, weight] of this.rules.get(sequence[sequence.length - distance]!) ?? []) {
        scores.set(to, (scores.get(to) ?? 0) + weight / distance);
      }
    }
    return scores;
  }

  /** Users who were positive about the event: the tie-break. */
  popularity(eventId: string): number {
    return this.positiveUsers.get(eventId)?.size ?? 0;
  }

  /** The user's score for every event: the rules' sum, plus a popularity below any rule's weight to break ties. */
  scorer(userId: string): (eventId: string) => number {
    const scores = this.scores(userId);
    return (eventId) => (scores.get(eventId) ?? 0) + this.popularity(eventId) * 1e-9;
  }
}
