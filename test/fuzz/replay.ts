/**
 * Replays kept fuzz inputs (test/fuzz/regressions/*.bin): `node dist/test/fuzz/replay.js FILE.bin...`
 * prints each one's verdict, each replayed in a process of its own (exit status 1 if any still fails). fuzz.test.ts runs inputs that once
 * hung, crashed, were slow or allocated too much this way, in a child process with a deadline and a
 * heap limit, so that one that still does cannot take the test process down with it.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { replayRegression, type RegressionNote, type Verdict } from './harness.js';

export interface ReplayResult {
  note?: RegressionNote;
  verdict: Pick<Verdict, 'status' | 'kind' | 'detail'>;
}

/** Replays one kept input in a child process (heap limited, killed after `deadlineMs`). */
export function replayInChild(binPath: string, deadlineMs = 10_000, heapMiB = 1024): Promise<ReplayResult> {
  const script = fileURLToPath(import.meta.url);
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`--max-old-space-size=${heapMiB}`, script, '--json', binPath],
      { timeout: deadlineMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env },
      (error, stdout) => {
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          const [result] = JSON.parse(line) as ReplayResult[];
          if (result) return resolve(result);
        } catch {
          // fall through: no verdict printed
        }
        const e = error as (Error & { killed?: boolean; signal?: string; code?: unknown }) | null;
        const kind = e?.killed && e.signal === 'SIGKILL' ? 'hang' : 'crash';
        const detail = kind === 'hang' ? `no verdict within ${deadlineMs} ms: killed` : `replay process died (code ${String(e?.code)}, signal ${String(e?.signal)})`;
        resolve({ verdict: { status: 'failure', kind, detail } });
      },
    );
  });
}

async function main(args: string[]): Promise<number> {
  const json = args[0] === '--json';
  const files = json ? args.slice(1) : args;
  const results: ReplayResult[] = [];
  for (const file of files) {
    // Each kept input in its own process (unless asked for JSON: then this is that process).
    const result = json ? await replayRegression(file) : await replayInChild(file, 60_000, 2048);
    const { verdict } = result;
    results.push({ ...(result.note ? { note: result.note } : {}), verdict: { status: verdict.status, ...(verdict.kind ? { kind: verdict.kind } : {}), detail: verdict.detail } });
    if (!json) console.log(`${verdict.status === 'failure' ? 'FAIL' : 'ok  '} ${file}: ${verdict.status}${verdict.kind ? ` (${verdict.kind})` : ''}: ${verdict.detail}`);
  }
  if (json) console.log(JSON.stringify(results));
  return results.some((r) => r.verdict.status === 'failure') ? 1 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && !process.env.NODE_TEST_CONTEXT) {
  process.exitCode = await main(process.argv.slice(2));
}
