import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SharedViewReceiver } from './shared-views.js';
import { MithrilError } from '../errors.js';
import { runDecode, runEncode, type DecodeTask, type EncodeTask } from '../chunks/code.js';
import { restoreRun, type RestoreRun } from '../chunks/restore-run.js';

/**
 * A worker thread: runs chunk tasks on buffers shared with the main thread (see shared-views.ts)
 * and answers with the result alone.
 */
export type WorkerRequest = { id: number; encode: EncodeTask } | { id: number; decode: DecodeTask } | { id: number; restoreRun: RestoreRun };

const views = new SharedViewReceiver();
/** Replies go on a port of their own, which the main thread can read without its event loop (executor.ts, collect). */
const replies = (workerData as { replies: MessagePort }).replies;

parentPort!.on('message', async (packed: unknown) => {
  const request = views.unpack(packed) as WorkerRequest;
  try {
    if ('encode' in request) replies.postMessage({ id: request.id, result: runEncode(request.encode) });
    else if ('decode' in request) replies.postMessage({ id: request.id, outcome: runDecode(request.decode) });
    else replies.postMessage({ id: request.id, run: await restoreRun(request.restoreRun) });
  } catch (error) {
    // A MithrilError goes as its parts, to be made again on the other side (a message carries no class).
    if (error instanceof MithrilError) replies.postMessage({ id: request.id, mithril: { file: error.file, problem: error.problem, code: error.code } });
    else {
      const code = (error as NodeJS.ErrnoException | null)?.code;
      replies.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error), ...(code ? { code } : {}) });
    }
  }
});
// Every module is loaded: until this arrives the main thread codes chunks itself (docs/DESIGN.md, "Workers").
replies.postMessage({ ready: true });
