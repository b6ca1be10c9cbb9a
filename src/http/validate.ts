import type { z } from 'zod';
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
