import { SingleBar } from 'cli-progress';

/** Below this size work is quick and a bar would only flicker. */
const MIN_BYTES_FOR_BAR = 64 * 1024 * 1024;

export type ProgressCallback = (done: number, total: number) => void;

/** A progress bar on stderr for long work, when stderr is a terminal and not silenced. */
function progressBar(label: string, quiet: boolean): { onProgress?: ProgressCallback; stop: () => void } {
  if (quiet || !process.stderr.isTTY) return { stop: () => {} };
  let bar: SingleBar | undefined;
  const started = Date.now();
  return {
    onProgress(done, total) {
      if (total < MIN_BYTES_FOR_BAR) return;
      if (!bar) {
        bar = new SingleBar({
          stream: process.stderr,
          format: `${label} [{bar}] {percentage}% | {doneMiB}/{totalMiB} MiB | {speed} MiB/s | ETA {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
        });
        bar.start(total, 0, { doneMiB: '0', totalMiB: (total / 1048576).toFixed(0), speed: '0' });
      }
      const seconds = Math.max((Date.now() - started) / 1000, 1e-3);
      bar.update(done, { doneMiB: (done / 1048576).toFixed(0), speed: (done / 1048576 / seconds).toFixed(0) });
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
