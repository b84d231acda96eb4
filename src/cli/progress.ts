/**
 * A one-line terminal progress bar for long CLI work (generation, training, evaluation).
 * Redraws at most a few times a second; prints plain lines when stdout is not a terminal
 * (CI logs, files), so logs stay readable.
 */
export class ProgressBar {
  private lastDraw = 0;
  private readonly start = Date.now();
  private lastLine = '';

  constructor(
    private readonly label: string,
    public total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    /** Work already done before this bar started (a resumed run): excluded from the rate. */
    private readonly startDone = 0,
  ) {}

  private lastDone = -1;

  update(done: number, extra = ''): void {
    const now = Date.now();
    const tty = this.stream.isTTY;
    if (done < this.total && now - this.lastDraw < (tty ? 250 : 10_000)) return;
    this.lastDraw = now;
    this.lastDone = done;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const elapsed = (now - this.start) / 1000;
    const rateDone = done - this.startDone;
    const eta = rateDone > 0 ? (elapsed * (this.total - done)) / rateDone : NaN;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const line = `${this.label} [${bar}] ${done}/${this.total} ${(frac * 100).toFixed(0)}% ${formatSeconds(elapsed)} elapsed, ETA ${formatSeconds(eta)}${extra ? ' | ' + extra : ''}`;
    if (tty) this.stream.write('\r' + line.padEnd(this.lastLine.length));
    else this.stream.write(line + '\n');
    this.lastLine = line;
  }

  private finished = false;

  finish(extra = ''): void {
    if (this.finished) return;
    this.finished = true;
    if (extra || this.lastDone < this.total) {
      this.lastDraw = 0;
      this.update(this.total, extra);
    }
    if (this.stream.isTTY) this.stream.write('\n');
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
