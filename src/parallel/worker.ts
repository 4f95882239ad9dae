import { parentPort } from 'node:worker_threads';
import { transferable } from './buffers.js';
import { encodeRefs, runDecode, runEncode, type DecodeTask, type EncodeTask } from './tasks.js';

/** A worker thread: runs chunk tasks and hands their buffers back to the main thread. */
export type WorkerRequest = { id: number; encode: EncodeTask } | { id: number; decode: DecodeTask };

parentPort!.on('message', (request: WorkerRequest) => {
  try {
    if ('encode' in request) {
      const task = request.encode;
      const result = runEncode(task);
      const refs = encodeRefs(task);
      parentPort!.postMessage({ id: request.id, result, raw: task.raw, out: task.out, refs }, transferable(task.raw, task.out, ...refs));
    } else {
      const task = request.decode;
      const outcome = runDecode(task);
      parentPort!.postMessage({ id: request.id, outcome, raw: task.raw, coded: task.coded, refs: task.refs }, transferable(task.raw, task.coded, ...task.refs));
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    parentPort!.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error), ...(code ? { code } : {}) });
  }
});
