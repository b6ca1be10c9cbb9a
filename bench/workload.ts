// Who does what: one seeded user/event/action distribution shared by every phase that sends
// interactions (ingest, the naive baseline, freshness, cost), so that their figures compare.
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { seededRandom } from '../eval/data';

export const JWT_SECRET = 'bench-secret-not-for-production';
export const WEIGHTS = { VIEW: 1, CLICK: 3, SAVE: 5, APPLY: 8, DISMISS: -10 } as const;
export type Action = keyof typeof WEIGHTS;

/** Mostly views, as on a real platform; the same mix is used in the SQL seeds (see seed.ts). */
const ACTION_MIX: [Action, number][] = [
  ['VIEW', 0.7],
  ['CLICK', 0.85],
  ['SAVE', 0.93],
  ['APPLY', 0.95],
  ['DISMISS', 1],
];

/** mulberry32 (the evaluation's): small, fast and seedable, so two runs send the same workload. */
export const rng = seededRandom;

/** Index in [0, n) with P(i) ∝ 1/(i+1): a few events get most of the attention. */
export function zipfIndex(u: number, n: number): number {
  return Math.min(n - 1, Math.floor(Math.exp(u * Math.log(n + 1))) - 1);
}

/** Index in [0, n) skewed towards heavy users (the top 1% send about a tenth of the traffic). */
export function userIndex(u: number, n: number): number {
  return Math.min(n - 1, Math.floor(n * u * u));
}

export function pickAction(u: number): Action {
  return ACTION_MIX.find(([, upTo]) => u < upTo)![0];
}

export function userId(i: number): string {
  return `bench-user-${i}`;
}

export interface Interaction {
  userId: string;
  eventId: string;
  action: Action;
}

export class Workload {
  private readonly random: () => number;
  private readonly tokens = new Map<string, string>();

  /**
   * `uniformUsers`: every user equally likely, for the phases that send thousands of requests a
   * second with the default per-user rate limit on: with the skew, the heaviest user would send
   * more in a minute than a person could, and get 429s.
   */
  constructor(
    private readonly eventIds: string[],
    private readonly users: number,
    seed = 42,
    private readonly uniformUsers = false,
  ) {
    this.random = rng(seed);
  }

  next(): Interaction {
    const u = this.random();
    return {
      userId: userId(this.uniformUsers ? Math.floor(u * this.users) : userIndex(u, this.users)),
      eventId: this.eventIds[zipfIndex(this.random(), this.eventIds.length)]!,
      action: pickAction(this.random()),
    };
  }

  /** The event of a fresh draw, for a fixed user (cost phase). */
  nextEvent(): string {
    return this.eventIds[zipfIndex(this.random(), this.eventIds.length)]!;
  }

  token(user: string): string {
    let token = this.tokens.get(user);
    if (!token) {
      token = signToken(user);
      this.tokens.set(user, token);
    }
    return token;
  }
}

export function signToken(user: string, roles?: string[]): string {
  return jwt.sign({ sub: user, ...(roles && { roles }) }, JWT_SECRET, { algorithm: 'HS256', expiresIn: '3h' });
}

/** A ready-to-send POST /interactions: headers and body, as autocannon and the plain clients take them. */
export interface PreparedRequest {
  headers: Record<string, string>;
  body: string;
}

export function interactionRequest(workload: Workload, interaction: Interaction): PreparedRequest {
  return {
    headers: { authorization: `Bearer ${workload.token(interaction.userId)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ eventId: interaction.eventId, action: interaction.action }),
  };
}

/** A naive-baseline job: what the API would have queued for the same interaction. */
export function naiveJob(interaction: Interaction): Interaction & { id: string; acceptedAt: string } {
  return { id: randomUUID(), ...interaction, acceptedAt: new Date().toISOString() };
}
