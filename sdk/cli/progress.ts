// A progress line for the long commands (eval, sweep, fit-ood, accuracy): images done, images per second and the time
// left, redrawn in place on stderr at most 10 times a second. Only where stderr is a terminal and the output is not
// --json: a pipe, a log file or a CI job gets nothing (no carriage returns in logs), stdout is never touched.
//
//   eval fmnist-vit w4a4  12 400/37 800 images (33 %) · 412 images/s · 1:02 left

/** Where the line goes: process.stderr, or a stand-in in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

/** Seconds as m:ss or h:mm:ss; '—' where unknown. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '—';
  const t = Math.round(s);
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  const ss = String(sec).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

const group = (n: number) => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');

/** The line itself (pure): label, done/total, share, rate, time left (from the rate so far). */
export function formatProgress(label: string, done: number, total: number | undefined, elapsedS: number): string {
  const rate = elapsedS > 0 ? done / elapsedS : 0;
  const rateText = rate > 0 ? `${rate < 10 ? rate.toFixed(1) : group(rate)} images/s` : '— images/s';
  if (!total || total <= 0) return `${label}  ${group(done)} images · ${rateText}`;
  const share = Math.min(100, Math.floor((100 * done) / total));
  const left = rate > 0 ? Math.max(0, total - done) / rate : NaN;
  return `${label}  ${group(done)}/${group(total)} images (${share} %) · ${rateText} · ${formatDuration(left)} left`;
}

/** Whether a progress line should be drawn: a terminal, and output that is not --json. */
export function progressWanted(stream: ProgressStream, json: boolean): boolean {
  return Boolean(stream.isTTY) && !json;
}

export class ProgressLine {
  private done = 0;
  private total: number | undefined;
  private label = '';
  private started: number;
  private lastDraw = -Infinity;
  private drawn = false;

  constructor(
    private readonly stream: ProgressStream,
    readonly enabled: boolean,
    private readonly now: () => number = () => performance.now(),
    private readonly minIntervalMs = 100,
  ) {
    this.started = now();
  }

  /** For a command: stderr, drawn only where it is a terminal and the output is not --json. */
  static forStderr(json: boolean): ProgressLine {
    return new ProgressLine(process.stderr, progressWanted(process.stderr, json));
  }

  /** Progress as the study functions report it: images done of total so far, under a label. */
  update(done: number, total: number | undefined, label: string): void {
    this.done = done;
    this.total = total;
    this.label = label;
    const t = this.now();
    if (this.enabled && (t - this.lastDraw >= this.minIntervalMs || (total !== undefined && done >= total))) this.draw(t);
  }

  /** A log line: the progress line is cleared, the line printed, the progress line drawn again below it. */
  log(line: string): void {
    if (!this.enabled) {
      this.stream.write(line + '\n');
      return;
    }
    this.clear();
    this.stream.write(line + '\n');
    if (this.label) this.draw(this.now());
  }

  /** Remove the line (call before printing results, and on errors). */
  end(): void {
    if (this.enabled) this.clear();
  }

  private draw(t: number): void {
    this.lastDraw = t;
    let line = formatProgress(this.label, this.done, this.total, (t - this.started) / 1000);
    const width = (this.stream.columns || 80) - 1; // 0 or absent (a pty without a size): 80
    if (line.length > width) line = line.slice(0, Math.max(0, width - 1)) + '…';
    this.stream.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }

  private clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
