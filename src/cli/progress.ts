import cliProgress from 'cli-progress';
import { type HuntStats, type HuntUnit, unitSize } from '../hunt/hunt.js';

/**
 * The hunt's progress bar on stderr: files, megabytes, events a second and detections so far. Only
 * on a terminal, and never under CI, so that logs and pipes get clean text.
 */
export class HuntProgress {
  private readonly started = Date.now();
  private bytes = 0;
  private lastJson = 0;

  private constructor(private readonly bar: cliProgress.SingleBar | undefined, private readonly files: number, private readonly totalBytes = 0) {}

  /**
   * Progress for programs (the web UI runs hunts as child processes): a JSON line on stderr at most
   * four times a second, `{"progress":{"bytes","totalBytes","files","totalFiles","events","detections"}}`.
   */
  static json(totalBytes: number, files: number): HuntProgress {
    const p = new HuntProgress(undefined, files, totalBytes);
    p.emitJson({ files: 0, events: 0, detections: 0, unreadable: [] }, true);
    return p;
  }

  private emitJson(stats: HuntStats, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastJson < 250) return;
    this.lastJson = now;
    process.stderr.write(`${JSON.stringify({ progress: { bytes: this.bytes, totalBytes: this.totalBytes, files: Math.min(stats.files, this.files), totalFiles: this.files, events: stats.events, detections: stats.detections } })}\n`);
  }

  static start(totalBytes: number, files: number): HuntProgress | undefined {
    if (!process.stderr.isTTY || process.env.CI) return undefined;
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: 'hunting [{bar}] {percentage}% | {filesDone}/{files} files | {mb}/{totalMb} MB | {rate} events/s | {detections} detections',
        hideCursor: true,
        clearOnComplete: false,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(totalBytes, 1), 0, { filesDone: 0, files, mb: '0', totalMb: (totalBytes / 1e6).toFixed(0), rate: 0, detections: 0 });
    return new HuntProgress(bar, files);
  }

  update(unit: HuntUnit, stats: HuntStats): void {
    this.bytes += unitSize(unit);
    if (!this.bar) return this.emitJson(stats);
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    this.bar.update(this.bytes, { filesDone: Math.min(stats.files, this.files), mb: (this.bytes / 1e6).toFixed(0), rate: Math.round(stats.events / seconds), detections: stats.detections });
  }

  /** A message printed above the bar. */
  log(message: string): void {
    // Clear the bar's line, print, and let the bar redraw itself below.
    if (!this.bar) {
      process.stderr.write(`${message}\n`);
      return;
    }
    process.stderr.write(`\r\x1b[K${message}\n`);
    this.bar.render();
  }

  stop(stats?: HuntStats): void {
    if (!this.bar) {
      this.bytes = this.totalBytes;
      if (stats) this.emitJson(stats, true);
      return;
    }
    this.bar.update(this.bar.getTotal());
    this.bar.stop();
  }
}

/**
 * A bar for work counted in steps of one kind (bytes read into a database, rules run there), with
 * the steps a second. Only on a terminal, never under CI.
 */
export class StepProgress {
  private readonly started = Date.now();

  private constructor(
    private readonly bar: cliProgress.SingleBar,
    private readonly scale: number,
  ) {}

  static start(label: string, total: number, unit: string, scale = 1): StepProgress | undefined {
    if (!process.stderr.isTTY || process.env.CI || total <= 0) return undefined;
    const bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {shown}/{total_shown} ${unit} | {rate} ${unit}/s`, hideCursor: true, clearOnComplete: true, fps: 5 },
      cliProgress.Presets.shades_classic,
    );
    const progress = new StepProgress(bar, scale);
    bar.start(total, 0, { shown: 0, total_shown: Math.round(total / scale), rate: 0 });
    return progress;
  }

  update(done: number): void {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    this.bar.update(done, { shown: Math.round(done / this.scale), rate: Math.round(done / this.scale / seconds) });
  }

  /** A message printed above the bar. */
  log(message: string): void {
    process.stderr.write(`\r\x1b[K${message}\n`);
    this.bar.render();
  }

  stop(): void {
    this.bar.stop();
  }
}
