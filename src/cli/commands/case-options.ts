import { Command, InvalidArgumentError } from 'commander';
import { REPORT_FORMATS, type ReportFormat } from '../../report/formats.js';

/*
 * Options that `attribute`, `report` and `hunt` share, apart from the code that acts on them: a hunt
 * then loads attribution and the report writers only when it is asked for them.
 */

export interface AttributeCliOptions {
  attack?: string;
  sector: string[];
  country: string[];
  top: string;
}

const collect = (v: string, prev: string[]) => [...prev, ...v.split(',').map((x) => x.trim()).filter(Boolean)];

/** Options shared by `attribute` and `hunt --attribute`. */
export function addAttributionOptions(c: Command): Command {
  return c
    .option('--attack <bundle.json>', 'ATT&CK Enterprise STIX bundle (default: the copy `spoor update` installed, else the one Spoor ships)')
    .option('--sector <sector>', 'victim sector, e.g. "higher education", "law firms" (repeatable)', collect, [])
    .option('--country <country>', 'victim country, e.g. US or "United States" (repeatable)', collect, [])
    .option('--top <n>', 'candidate groups to list', '5');
}

export interface ReportCliOptions extends AttributeCliOptions {
  output: string;
  format: ReportFormat[];
  title?: string;
  attribute: boolean;
}

/** A comma-separated list of report formats, checked. */
export function parseFormats(value: string): ReportFormat[] {
  const list = value.split(',').map((v) => v.trim()).filter(Boolean);
  for (const f of list) if (!(REPORT_FORMATS as readonly string[]).includes(f)) throw new InvalidArgumentError(`expected some of ${REPORT_FORMATS.join(', ')}`);
  return list as ReportFormat[];
}

/** Options `report` and `hunt --report` share. */
export function addReportOptions(c: Command): Command {
  return c
    .option('--report-format <formats>', `with --report: which files (${REPORT_FORMATS.join(', ')}; comma-separated)`, parseFormats, [...REPORT_FORMATS])
    .option('--title <title>', 'the report\'s title (default: the input\'s name)');
}

