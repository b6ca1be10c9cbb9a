import { z } from 'zod';
import { isStorableText } from '../domain/ids';
import { ValidationError } from '../errors';

/** Parses untrusted input, or throws a 400 naming every field that is wrong. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) =>
    issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message,
  );
  throw new ValidationError(problems.join('; '));
}

/** A trimmed, non-empty string of at most `max` characters that PostgreSQL can store as it is. */
export const storableText = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine(isStorableText, 'must be text without control characters');

/**
 * Ids from clients, normalised in one place for every route: UUIDs compare case-insensitively in
 * PostgreSQL but not in Redis or in memory (a gig applied to as "ABC..." stayed in the feed).
 */
export const normaliseId = (value: string) => value.toLowerCase();

/** An id the client sent in the body: a string of at most 200 characters, normalised; `examples` for the docs. */
export const idField = (examples?: string[]) =>
  z
    .string({ error: 'must be a string' })
    .max(200, 'is too long')
    .meta(examples ? { examples } : {})
    .transform(normaliseId);

/** An id from the path, normalised. */
export const idParam = (req: { params: Record<string, string | string[] | undefined> }, name: string) =>
  normaliseId(String(req.params[name] ?? ''));
