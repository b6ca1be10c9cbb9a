/** Splits one CSV line (RFC 4180 quoting). */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields.map((f) => f.trim());
}

/**
 * Rows of a CSV text as records keyed by `columns`. A first line naming the columns is skipped;
 * blank lines are ignored.
 */
export function parseCsv(text: string, columns: readonly string[]): { line: number; values: Record<string, string> }[] {
  const rows: { line: number; values: Record<string, string> }[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    if (raw.trim() === '') return;
    const fields = splitCsvLine(raw);
    if (index === 0 && fields[0]?.toLowerCase() === columns[0]) return;
    rows.push({ line: index + 1, values: Object.fromEntries(columns.map((c, i) => [c, fields[i] ?? ''])) });
  });
  return rows;
}

/** ISO 8601, or seconds since the Unix epoch (integer or decimal). */
export function parseTimestamp(text: string): Date | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return new Date(Number(text) * 1000);
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
