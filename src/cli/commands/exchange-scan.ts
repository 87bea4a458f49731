import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import { Command } from 'commander';
import { assessBuild, type BuildAssessment } from '../../exchange/build.js';
import { buildFromLogs } from '../../exchange/build-evidence.js';
import { checkServerFile, isWebPath } from '../../exchange/server-files.js';
import { loadExchangeTables } from '../../exchange/tables.js';
import { type Detection, iocMatched, iocRule } from '../../hunt/hunt.js';
import type { IocMatcher } from '../../hunt/ioc/matcher.js';
import { syntheticRule } from '../../hunt/synthetic-rule.js';
import { loadYaraRules, MAX_YARA_FILE_BYTES } from '../../hunt/yara.js';
import { collectInputs } from '../inputs.js';
import { expandArchives } from '../archives.js';
import { sniff } from '../../hunt/hunt.js';
import { BUNDLED_RULES, spoorAndDefaultRules } from '../default-rules.js';
import { join } from 'node:path';

/** Spoor's own YARA rules (rules/yara/). */
const BUNDLED_YARA = join(BUNDLED_RULES, 'yara');
import { ExitCode } from '../options.js';
import { describeBuild } from './exchange-build.js';
import { addHuntOptions, type HuntOptions, runHunt } from './hunt.js';
import { addMailAccessOptions, type MailAccessOptions, mailAccessOptionError, mailAccessStage, withReportMailJson } from './mail-access-stage.js';
import { mailAccessText } from '../../report/mail-access.js';

type ScanOptions = HuntOptions & MailAccessOptions & {
  yara?: string[];
  build?: string;
  /** false: the files' modification times are the copy's, not the server's. */
  fileTimes?: boolean;
};

export function exchangeScanCommand(): Command {
  return addMailAccessOptions(addHuntOptions(
    new Command('scan')
      .description("check evidence collected from an Exchange server: its logs (Test-ProxyLogon's checks, ProxyShell, ProxyNotShell, SigmaHQ's web and Exchange rules), its web folders (unexpected pages, YARA), dumps and staged archives, indicators of compromise, and its build's exposure")
      .argument('<dir>', "the server's collected files (its C: drive or parts of it: inetpub, Program Files\\Microsoft\\Exchange Server, Windows\\System32\\winevt\\Logs, ProgramData)"),
    "more Sigma rules (Spoor's Exchange rules always run, with SigmaHQ's when spoor update has fetched them)",
    true,
  )
    .option('--yara <path>', "more YARA rules (a file, or a folder of .yar/.yara files) for the web folders and suspicious files, besides Spoor's own (repeatable)", (v: string, p: string[] = []) => [...p, v])
    .option('--build <build>', 'the server\'s Exchange build, when its logs do not tell it (e.g. 15.1.2176.2)')
    .option('--no-file-times', 'the files\' times are not the server\'s (copied or uploaded without them): file findings carry no time'))
    .addHelpText('after', `
Findings are detections like hunt's, in the same formats: Sigma rules over the logs and event logs,
plus checks of files (by path, first bytes, YARA rules and indicator hashes) and the exposure of the
build read from the Exchange logs' headers (or --build) to known-exploited CVEs. After the summary,
the threat groups the findings point to are ranked (with the knowledge Spoor ships, or what spoor
update installed; --sector and --country add what you know of the victim; --no-attribute skips it).
Exit status: as for hunt (0 clean run, 1 with --fail-on reached or an unreadable input, 2 usage).`)
    .action(async (dir: string, opts: ScanOptions) => {
      process.exitCode = await scan(dir, opts);
    });
}

async function scan(dir: string, opts: ScanOptions): Promise<number> {
  const root = resolve(dir);
  const say = (m: string) => process.stderr.write(`spoor exchange scan: ${m}\n`);
  const optionError = mailAccessOptionError(opts);
  if (optionError) {
    say(optionError);
    return ExitCode.Usage;
  }
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) {
    say(`${dir}: not a directory`);
    return ExitCode.Usage;
  }
  // What the walk could not read (links out of --within among it) the hunt below says, walking the same folder.
  const listed = collectInputs([root], () => true, undefined, opts.within).files.map((f) => f.path);
  // A zip at the top of the folder is the collection itself, zipped (as the web UI takes it): its
  // entries are the server's files. A zip deeper in the tree is one of the server's files (a staged
  // archive is a finding), checked as it is.
  const isCollection = (f: string) => dirname(f) === root && sniff(f) === 'zip';
  const zipped = expandArchives(listed.filter(isCollection).map((path) => ({ path, size: 0 })), say);
  try {
    const files: ServerFile[] = [
      ...listed.filter((f) => !isCollection(f)).map((path) => ({ path, rel: relative(root, path).split(sep).join('/'), label: path, timeless: opts.fileTimes === false })),
      // Unpacked now, an entry's file time is today's, not the server's: left out rather than stretching the timeline.
      ...zipped.files.map((e) => ({ path: e.path, rel: e.name!.slice(e.name!.indexOf('!') + 1), label: e.name!, timeless: true })),
    ];
    return await scanFiles(root, files, opts, say);
  } finally {
    zipped.cleanup();
  }
}

/** A file of the server: where it is read from, its path in the server's tree, and how findings name it. */
interface ServerFile {
  path: string;
  rel: string;
  label: string;
  /** Its file time is not the server's (unpacked from an archive). */
  timeless?: boolean;
}

async function scanFiles(root: string, files: readonly ServerFile[], opts: ScanOptions, say: (m: string) => void): Promise<number> {
  const yaraInputs = collectInputs(opts.yara ?? [], (name) => /\.(yar|yara)$/i.test(name));
  for (const e of yaraInputs.errors) say(`--yara ${e}`);
  if (yaraInputs.errors.length) return ExitCode.Usage;
  // Spoor's own web shell rules always; more with --yara.
  const yaraFiles = [...collectInputs([BUNDLED_YARA], (name) => /\.(yar|yara)$/i.test(name)).files.map((f) => f.path), ...yaraInputs.files.map((f) => f.path)];
  const yara = yaraFiles.length ? loadYaraRules(yaraFiles, (f, m) => say(`--yara ${f}: ${m}`)) : undefined;
  if (yara) say(`YARA: ${yara.files} of ${yaraFiles.length} rule files compiled`);

  const tables = loadExchangeTables();
  const fromLogs = opts.build ? undefined : buildFromLogs(files.map((f) => f.path));
  const source = files.find((f) => f.path === fromLogs?.file);
  const seen = opts.build ? { build: opts.build, file: '--build', date: '' } : fromLogs && source ? { ...fromLogs, file: source.label } : undefined;
  const assessment = seen ? assessBuild(seen.build, tables) : undefined;
  if (opts.build && !assessment) {
    say(`--build ${opts.build}: not an Exchange build number`);
    return ExitCode.Usage;
  }
  const rules = spoorAndDefaultRules();

  const findings = (iocs: IocMatcher | undefined): Detection[] => {
    const out: Detection[] = [];
    if (assessment && seen) out.push(...exposureDetections(assessment, seen.file, seen.date));
    for (const { path: file, rel, label, timeless } of files) {
      const place = filePlace(file, label, timeless);
      const checks = checkServerFile(file, rel);
      for (const f of checks) {
        out.push({ ...place, rule: syntheticRule({ id: `spoor-exchange-${f.check}`, title: f.title, level: f.level, tags: f.tags }), matched: { path: rel, finding: f.detail } });
      }
      const suspicious = checks.length > 0;
      if (yara && (isWebPath(rel) || suspicious)) {
        for (const m of safeScan(() => yara.scan(file), say, rel)) {
          out.push({ ...place, rule: syntheticRule({ id: `spoor-yara-${m.rule}`, title: `YARA: ${m.rule}`, level: 'high', tags: ['detection.yara', ...m.tags.map((t) => `yara.${t.toLowerCase()}`)], description: String(m.meta.description ?? ''), file: m.source }), matched: { path: rel, yara_rule: m.rule, yara_file: m.source, strings: m.strings, ...(m.meta.description ? { description: m.meta.description } : {}) } });
        }
      }
      if (iocs?.size) {
        const hashes = iocs.hasHashes && (isWebPath(rel) || suspicious || /(^|\/)programdata\//i.test(rel)) ? fileHashes(file) : {};
        for (const hit of iocs.matchFile(rel, hashes)) out.push({ ...place, rule: iocRule(hit), matched: { ...iocMatched(hit), path: rel } });
      }
    }
    return out;
  };
  const summary = (): string[] => {
    if (!assessment || !seen) return ['Exchange build: not found in the logs (give it with --build)'];
    const [first, ...rest] = describeBuild(assessment).trimEnd().split('\n');
    const from = seen.file === '--build' ? '' : ` (from ${source?.rel ?? seen.file})`;
    return [`Exchange build ${first}${from}`, ...rest];
  };
  const mail = mailAccessStage(withReportMailJson(opts), (scope) => void process.stderr.write(`\nMail access (spoor mail-access tells more):\n${mailAccessText(scope)}`));
  return runHunt([root], opts, { command: 'exchange scan', rules, findings, summary, expectOtherFiles: true, ...mail });
}

function safeScan<T>(scan: () => T[], say: (m: string) => void, rel: string): T[] {
  try {
    return scan();
  } catch (e) {
    say(`${rel}: YARA scan failed: ${(e as Error).message}`);
    return [];
  }
}

function fileHashes(file: string): { md5?: string; sha1?: string; sha256?: string } {
  try {
    if (statSync(file).size > MAX_YARA_FILE_BYTES) return {};
    const data = readFileSync(file);
    const h = (alg: string) => createHash(alg).update(data).digest('hex');
    return { md5: h('md5'), sha1: h('sha1'), sha256: h('sha256') };
  } catch {
    return {};
  }
}

/** A file finding's place: the file, its modification time as the finding's time. */
function filePlace(file: string, label: string, timeless = false): Pick<Detection, 'file' | 'timestamp' | 'recordId' | 'computer' | 'channel' | 'eventId' | 'event'> {
  let mtime = '';
  let size = 0;
  try {
    const st = statSync(file);
    if (!timeless) mtime = st.mtime.toISOString();
    size = st.size;
  } catch {
    // a file gone since the walk keeps an empty time
  }
  return { file: label, timestamp: mtime, recordId: '', computer: '', channel: 'File', eventId: '', event: { File: { path: label, size, modified: mtime } } };
}

/** The build's exposure as a detection when it is open to known-exploited CVEs. */
function exposureDetections(a: BuildAssessment, file: string, date: string): Detection[] {
  if (!a.cves.length) return [];
  const rule = syntheticRule({ id: 'spoor-exchange-exposure', title: 'Exchange build open to known-exploited CVEs', level: 'high', tags: ['detection.exposure', 'attack.initial-access', 'attack.t1190', ...a.cves.map((c) => `cve.${c.cve.slice(4).toLowerCase()}`)] });
  return [{ rule, file, timestamp: date, recordId: '', computer: '', channel: 'Exchange build', eventId: '', event: a, matched: { build: a.build, product: a.productName, cu: a.cu, update: a.update, cves: a.cves.map((c) => c.cve) } }];
}
