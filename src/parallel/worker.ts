import { parentPort } from 'node:worker_threads';
import { runDecode, runEncode, type DecodeTask, type EncodeTask } from './tasks.js';

/** A worker thread: runs chunk tasks and hands their buffers back to the main thread. */
export type WorkerRequest = { id: number; encode: EncodeTask } | { id: number; decode: DecodeTask };

const transferable = (...arrays: (Uint8Array | undefined)[]): ArrayBuffer[] =>
  [...new Set(arrays.flatMap((a) => (a ? [a.buffer as ArrayBuffer] : [])))];

parentPort!.on('message', (request: WorkerRequest) => {
  try {
    if ('encode' in request) {
      const task = request.encode;
      const result = runEncode(task);
      parentPort!.postMessage({ id: request.id, result, raw: task.raw, out: task.out }, transferable(task.raw, task.out));
    } else {
      const task = request.decode;
      const outcome = runDecode(task);
      parentPort!.postMessage({ id: request.id, outcome, raw: task.raw, coded: task.coded }, transferable(task.raw, task.coded));
    }
  } catch (error) {
    parentPort!.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) });
  }
});
