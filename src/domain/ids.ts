const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Any UUID PostgreSQL accepts. Checked before a client-supplied id reaches PostgreSQL. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

// C0 controls, DEL and C1 controls: PostgreSQL refuses NUL in text, and none belongs in a name or an id.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Whether a client-supplied string can be stored as it is: well-formed Unicode (a lone surrogate
 * would be silently replaced) and free of control characters.
 */
export function isStorableText(value: string): boolean {
  return value.isWellFormed() && !CONTROL.test(value);
}
