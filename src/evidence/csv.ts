import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { fromFlatRecord } from './normalize.js';

/** A CSV field longer than this is an error in that row (csv-parse's bound), not a reason to hold the file. */
const MAX_RECORD_CHARS = 16 * 1024 * 1024;

/**
 * Reads events from a CSV file with a header row (a SIEM or PowerShell export): streamed, each row
 * an event whose fields are its columns, with the usual column names (or `timeField`) taken for the
 * Windows system fields. A malformed row is reported with its line and skipped.
 */
export async function* readCsvEvents(file: string, onError: (line: number, message: string) => void, timeField?: string): AsyncGenerator<{ event: unknown; line: number }> {
  const parser = createReadStream(file).pipe(
    parse({
      columns: (header: string[]) => header.map((h) => h.trim()),
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      relax_quotes: true,
      max_record_size: MAX_RECORD_CHARS,
      skip_records_with_error: true,
      info: true,
    }),
  );
  parser.on('skip', (e: Error & { lines?: number }) => onError(e.lines ?? 0, e.message));
  for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    yield { event: fromFlatRecord(record, timeField), line: info.lines };
  }
}
