import type { SingleBar } from 'cli-progress';
import { createRequire } from 'node:module';

/** Below this size work is quick and a bar would only flicker. */
const MIN_BYTES_FOR_BAR = 64 * 1024 * 1024;
const MiB = 1024 * 1024;
/** A narrower bar says little; the columns go to the label instead. */
const MIN_BAR = 10;
/** Shortest time a rate is computed over. */
const MIN_SPAN_MS = 250;

export type ProgressCallback = (done: number, total: number) => void;

/** What one progress line shows; `columns` is the terminal's width. */
export interface ProgressLine {
  columns: number;
  label: string;
  done: number;
  total: number;
  bytesPerSecond: number;
  etaSeconds: number | undefined;
}

/** `m:ss` or `h:mm:ss`; `--:--` while there is no rate to go by. */
function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '--:--';
  const s = Math.ceil(seconds);
  const [h, m] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60)];
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Cuts the middle out of `chars` so it fits `room` columns, keeping the verb and the file name's end. */
function shorten(chars: string[], room: number): string {
  if (chars.length <= room) return chars.join('');
  if (room < 8) return ''; // a stub of a few characters names nothing
  const head = Math.floor((room - 1) / 3); // the end, with the file's name, says more than the start
  return `${chars.slice(0, head).join('')}…${chars.slice(chars.length - (room - 1 - head)).join('')}`;
}

/**
 * One progress line no wider than `columns - 1`: label, bar, percentage, MiB done, MiB/s and ETA.
 * As room shrinks, the bar narrows, then the MiB done go, then the bar, then the label is shortened.
 */
export function formatProgressLine({ columns, label, done, total, bytesPerSecond, etaSeconds }: ProgressLine): string {
  // The last column stays free: some terminals wrap as soon as it is written.
  const width = Math.max(columns - 1, 1);
  const fraction = total > 0 ? Math.min(Math.max(done / total, 0), 1) : 1;
  const percent = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
  const rate = bytesPerSecond > 0 ? (bytesPerSecond / MiB).toFixed(bytesPerSecond < 10 * MiB ? 1 : 0) : '--'; // 0: no rate yet
  const tail = `${rate} MiB/s ETA ${formatEta(etaSeconds)}`;
  const essential = `${percent} ${tail}`;
  const full = `${percent} ${(done / MiB).toFixed(0)}/${(total / MiB).toFixed(0)} MiB ${tail}`;
  // Code points, so the ellipsis never splits a surrogate pair.
  const chars = [...label];
  for (const stats of [full, essential]) {
    const barWidth = width - chars.length - stats.length - 4; // ' [', ']' and the space before the stats
    if (barWidth < MIN_BAR) continue;
    const filled = Math.round(fraction * barWidth);
    return `${label} [${'='.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${stats}`;
  }
  const shown = shorten(chars, width - essential.length - 1);
  // Below about 25 columns even the figures do not fit: cut rather than wrap.
  return (shown ? `${shown} ${essential}` : essential).slice(0, width);
}

/**
 * Throughput over the last `windowMs` of (time, bytes done) samples, so the rate and ETA follow a
 * slowdown; until the window has filled, that is the average since `start`.
 */
export class RecentRate {
  private readonly samples: Array<[ms: number, bytes: number]>;

  constructor(start: number, private readonly windowMs = 4000) {
    this.samples = [[start, 0]];
  }

  /** Records that `bytes` were done at time `ms` (milliseconds, non-decreasing). */
  add(ms: number, bytes: number): void {
    this.samples.push([ms, bytes]);
    // Keep the last sample at or before the window's start, so the rate spans the whole window.
    while (this.samples.length > 2 && this.samples[1]![0] <= ms - this.windowMs) this.samples.shift();
  }

  /** 0 until the samples span MIN_SPAN_MS: the first report (often just the header) would give a wild rate. */
  bytesPerSecond(): number {
    const [[t0, b0], [t1, b1]] = [this.samples[0]!, this.samples.at(-1)!];
    return t1 - t0 >= MIN_SPAN_MS ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }

  /** Seconds left to reach `total` at the recent rate; undefined while there is no rate yet. */
  etaSeconds(total: number): number | undefined {
    const rate = this.bytesPerSecond();
    return rate > 0 ? Math.max(total - this.samples.at(-1)![1], 0) / rate : undefined;
  }
}

/** cli-progress's bar, required only once some work proves long enough for one (loading it costs tens of milliseconds). */
const barClass = (): typeof SingleBar => (createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress')).SingleBar;

/** A progress bar on stderr for long work, when stderr is a terminal and not silenced. */
function progressBar(label: string, quiet: boolean): { onProgress?: ProgressCallback; stop: () => void } {
  if (quiet || !process.stderr.isTTY) return { stop: () => {} };
  let bar: SingleBar | undefined;
  const rate = new RecentRate(Date.now());
  return {
    onProgress(done, total) {
      if (total < MIN_BYTES_FOR_BAR) return;
      rate.add(Date.now(), done);
      const line = { label, done, total, bytesPerSecond: rate.bytesPerSecond(), etaSeconds: rate.etaSeconds(total) };
      if (bar) return bar.update(done, line);
      bar = new (barClass())({
        stream: process.stderr,
        // maxWidth is the terminal's width at each redraw (stream.columns, else 80), so resizes are followed.
        format: (_options, params, payload: Omit<ProgressLine, 'columns'>) => formatProgressLine({ ...payload, columns: params.maxWidth }),
        hideCursor: true,
        clearOnComplete: true,
      });
      bar.start(total, done, line);
    },
    stop: () => bar?.stop(),
  };
}

/** Runs `work` with a progress bar that is always cleared afterwards, even when the work fails. */
export async function withProgress<T>(label: string, quiet: boolean | undefined, work: (onProgress?: ProgressCallback) => Promise<T>): Promise<T> {
  const bar = progressBar(label, quiet ?? false);
  try {
    return await work(bar.onProgress);
  } finally {
    bar.stop();
  }
}
