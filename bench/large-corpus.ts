import { closeSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readEvtxFile } from '../src/evidence/evtx/index.js';
import { type SampleEvent, type SampleValue, writeEvtx } from '../src/evidence/evtx/writer.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const text = (v: unknown) => (isObj(v) ? v['#text'] : v);
const attr = (v: unknown, name: string) => (isObj(v) && isObj(v['#attributes']) ? v['#attributes'][name] : undefined);

/** An evtx_dump-shaped event with flat EventData as the writer's input; undefined for others. */
function asSample(event: unknown): SampleEvent | undefined {
  const root = isObj(event) && isObj(event.Event) ? event.Event : undefined;
  const s = root && isObj(root.System) ? root.System : undefined;
  if (!root || !s || !isObj(root.EventData)) return undefined;
  const data: [string, SampleValue][] = [];
  for (const [k, v] of Object.entries(root.EventData)) {
    if (k === '#attributes') continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') data.push([k, v]);
    else if (v === null) data.push([k, '']);
    else return undefined;
  }
  const time = Date.parse(String(attr(s.TimeCreated, 'SystemTime') ?? ''));
  if (Number.isNaN(time)) return undefined;
  return {
    provider: String(attr(s.Provider, 'Name') ?? 'Unknown'),
    providerGuid: String(attr(s.Provider, 'Guid') ?? '00000000-0000-0000-0000-000000000000'),
    eventId: Number(text(s.EventID)),
    version: Number(s.Version ?? 0),
    level: Number(s.Level ?? 4),
    task: Number(s.Task ?? 0),
    opcode: Number(s.Opcode ?? 0),
    keywords: BigInt(String(s.Keywords ?? '0x0')),
    time,
    processId: Number(attr(s.Execution, 'ProcessID') ?? 0),
    threadId: Number(attr(s.Execution, 'ThreadID') ?? 0),
    channel: String(s.Channel ?? ''),
    computer: String(s.Computer ?? ''),
    userSid: attr(s.Security, 'UserID') as string | undefined,
    data,
  };
}

/** The attack samples' events as the writer's input (those with flat EventData). */
function baseEvents(samples: readonly string[]): SampleEvent[] {
  const base: SampleEvent[] = [];
  for (const f of samples) for (const r of readEvtxFile(f, { render: 'event' })) {
    const s = asSample(r.event);
    if (s) base.push(s);
  }
  return base;
}

/** The events over and over, each pass shifted a day later. */
function* passes(base: readonly SampleEvent[]): Generator<SampleEvent> {
  for (let pass = 0; ; pass++) for (const e of base) yield { ...e, time: e.time + pass * 86_400_000 };
}

/**
 * A large hunting corpus made from the attack samples by repetition: files of `fileBytes` each until
 * `totalBytes`, every pass over the samples shifted in time (one day per pass); the writer numbers
 * records afresh. Returns the files written.
 */
export function writeLargeCorpus(samples: readonly string[], dir: string, totalBytes: number, fileBytes = 512 * 1024 * 1024): string[] {
  const base = baseEvents(samples);
  const events = passes(base);
  return writeFilesUntil(dir, 'evtx', totalBytes, (path) => {
    writeEvtx(path, limitBySize(events, path, fileBytes, base.length));
    const size = statSync(path).size;
    if (size <= 4096) throw new Error(`${path}: no events written`); // a header alone: never loop on empty files
    return size;
  });
}

/**
 * The same events as CSV files (a SIEM export's shape: one column per field, the system fields by
 * their usual names, empty where an event has no such field), `fileBytes` each until `totalBytes`.
 */
export function writeLargeCsv(samples: readonly string[], dir: string, totalBytes: number, fileBytes = 256 * 1024 * 1024): string[] {
  const base = baseEvents(samples);
  const dataNames = [...new Set(base.flatMap((e) => e.data.map(([k]) => k)))].sort();
  const header = ['TimeCreated', 'EventID', 'Channel', 'Provider_Name', 'Computer', ...dataNames];
  const column = new Map(dataNames.map((n, i) => [n, i + 5]));
  const events = passes(base);
  return writeFilesUntil(dir, 'csv', totalBytes, (path) => {
    const fd = openSync(path, 'w');
    let size = 0;
    const write = (text: string) => {
      const b = Buffer.from(text, 'utf8');
      writeSync(fd, b);
      size += b.length;
    };
    write(header.map(csvField).join(',') + '\n');
    let lines: string[] = [];
    while (size < fileBytes) {
      const e = events.next().value!;
      const row: string[] = new Array(header.length).fill('');
      row[0] = new Date(e.time).toISOString();
      row[1] = String(e.eventId);
      row[2] = e.channel;
      row[3] = e.provider;
      row[4] = e.computer;
      for (const [k, v] of e.data) row[column.get(k)!] = String(v);
      lines.push(row.map(csvField).join(','));
      if (lines.length === 1000) {
        write(lines.join('\n') + '\n');
        lines = [];
      }
    }
    if (lines.length) write(lines.join('\n') + '\n');
    closeSync(fd);
    return size;
  });
}

/** Files `large-N.EXT` in `dir`, each written by `writeOne` (which returns its size), until `totalBytes`. */
function writeFilesUntil(dir: string, ext: string, totalBytes: number, writeOne: (path: string) => number): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let written = 0; written < totalBytes; ) {
    const path = join(dir, `large-${files.length}.${ext}`);
    written += writeOne(path);
    files.push(path);
  }
  return files;
}

/** A CSV field, quoted when it holds a comma, a quote or a line break. */
function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * Events from a stream until the file being written reaches its size (checked every pass). Read by
 * `next()`, not `for … of`: leaving a `for … of` early would close the stream the next file goes on with.
 */
function* limitBySize(events: Iterator<SampleEvent>, path: string, bytes: number, every: number): Generator<SampleEvent> {
  for (let n = 1; ; n++) {
    const e = events.next();
    if (e.done) return;
    yield e.value;
    if (n % every === 0 && (statSync(path, { throwIfNoEntry: false })?.size ?? 0) >= bytes) return;
  }
}
