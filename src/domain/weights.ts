/** The interaction kinds the platform records, in the spec's order. */
export const ACTIONS = ['VIEW', 'SAVE', 'CLICK', 'APPLY', 'DISMISS'] as const;
export type Action = (typeof ACTIONS)[number];

export type ActionWeights = Readonly<Record<Action, number>>;

/**
 * The one weight table. The spec gives hints (low, high, medium, high, negative); the numbers keep
 * their order, and DISMISS outweighs a VIEW, a CLICK and a SAVE together so that a dismissal after
 * casual interest still drives the pair below zero. Overridable with ACTION_WEIGHTS.
 */
export const DEFAULT_WEIGHTS: ActionWeights = Object.freeze({
  VIEW: 1,
  SAVE: 5,
  CLICK: 3,
  APPLY: 8,
  DISMISS: -10,
});
