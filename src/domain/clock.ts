let lastMicros = 0;

/**
 * The acceptance time of an interaction: wall-clock time in microseconds, as an ISO 8601 string
 * PostgreSQL stores exactly. Strictly increasing within the process, so two requests accepted in
 * the same millisecond still get two different, ordered timestamps.
 */
export function acceptanceTime(): string {
  const micros = Math.max(Date.now() * 1000, lastMicros + 1);
  lastMicros = micros;
  const iso = new Date(Math.floor(micros / 1000)).toISOString();
  return `${iso.slice(0, -1)}${String(micros % 1000).padStart(3, '0')}Z`;
}
