import { createReadStream } from 'node:fs';
import { parse, type Options } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';

/** One CSV row as a record keyed by the expected columns, with its line number for messages. */
export interface CsvRow {
  line: number;
  values: Record<string, string>;
}

// RFC 4180 quoting; rows may be short (missing trailing fields are empty); a first line that
// names the columns is skipped.
const options: Options = { relax_column_count: true, skip_empty_lines: true, trim: true, info: true };

function toRow(columns: readonly string[], record: { record: string[]; info: { lines: number } }): CsvRow | undefined {
  const fields = record.record;
  if (record.info.lines === 1 && fields[0]?.toLowerCase() === columns[0]) return undefined;
  return { line: record.info.lines, values: Object.fromEntries(columns.map((c, i) => [c, fields[i] ?? ''])) };
}

/** Rows of a CSV text. */
export function parseCsv(text: string, columns: readonly string[]): CsvRow[] {
  const records = parseSync(text, options) as unknown as { record: string[]; info: { lines: number } }[];
  return records.flatMap((record) => toRow(columns, record) ?? []);
}

/** Rows of a CSV file, streamed (real datasets run to hundreds of megabytes). */
export async function* readCsv(file: string, columns: readonly string[]): AsyncGenerator<CsvRow> {
  for await (const record of createReadStream(file).pipe(parse(options))) {
    const row = toRow(columns, record as { record: string[]; info: { lines: number } });
    if (row) yield row;
  }
}

/** ISO 8601, or seconds since the Unix epoch (integer or decimal). */
export function parseTimestamp(text: string): Date | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return new Date(Number(text) * 1000);
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
