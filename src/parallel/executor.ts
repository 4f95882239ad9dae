import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { BufferPool } from './buffers.js';
import { SharedViewSender } from './shared-views.js';
import { encodeRefs, runDecode, runEncode, type DecodeOutcome, type DecodeTask, type EncodeResult, type EncodeTask } from '../chunks/code.js';
import { restoreRun, type RestoreRun, type RunResult } from '../chunks/restore-run.js';
import { MithrilError, type ErrorCode } from '../errors.js';
import type { WorkerRequest } from './worker.js';

/**
 * Runs chunk tasks, in this thread or on worker threads. Results come back with the task's
 * buffers so the caller can reuse them (fresh memory is slow to touch).
 */
export interface Executor {
  /** How many tasks to keep in flight to keep every thread busy. */
  readonly window: number;
  /** Whether task buffers are shared memory (see BufferPool). */
  readonly sharesMemory: boolean;
  /** Buffers for tasks, kept with the executor from call to call (see createExecutor). */
  readonly buffers: TaskBuffers;
  encode(task: EncodeTask): Promise<EncodeReply>;
  decode(task: DecodeTask): Promise<DecodeReply>;
  /** Worker threads beside this one. */
  readonly workers: number;
  /** Restores a run of chunks on worker number `worker` (which reads and writes the files itself), or here without workers. */
  restoreRunOn(worker: number, run: RestoreRun): Promise<RunResult>;
  /**
   * Whether the next task given will run in this thread, so that the caller can hand it bytes
   * without copying them into shared memory (the task then runs here whatever happens meanwhile).
   */
  runsNextHere(): boolean;
  /** Tasks run so far in this thread and on workers. */
  readonly ran: { here: number; onWorkers: number };
  /** Resolves once every worker takes tasks (before that, tasks run in this thread). */
  whenReady(): Promise<void>;
  close(): Promise<void>;
}

/** Pools of task buffers by use: a chunk's original bytes, its coded bytes, and its bases' bytes. */
export interface TaskBuffers {
  raw: BufferPool;
  coded: BufferPool;
  refs: BufferPool;
}

const taskBuffers = (shared: boolean): TaskBuffers => ({ raw: new BufferPool(shared), coded: new BufferPool(shared), refs: new BufferPool(shared) });

/** A task's result with its buffers handed back (`refs`: the base bytes it was given). */
export interface EncodeReply {
  result: EncodeResult;
  raw: Uint8Array;
  out: Uint8Array;
  refs: Uint8Array[];
}

export interface DecodeReply {
  outcome: DecodeOutcome;
  raw: Uint8Array;
  coded: Uint8Array;
  refs: Uint8Array[];
}

export function defaultThreads(): number {
  return availableParallelism();
}

class InProcess implements Executor {
  readonly window = 1;
  readonly sharesMemory = false;
  readonly buffers = taskBuffers(false);
  readonly ran = { here: 0, onWorkers: 0 };
  runsNextHere(): boolean {
    return true;
  }
  async encode(task: EncodeTask): Promise<EncodeReply> {
    this.ran.here++;
    return { result: runEncode(task), raw: task.raw, out: task.out, refs: encodeRefs(task) };
  }
  async decode(task: DecodeTask): Promise<DecodeReply> {
    this.ran.here++;
    return { outcome: runDecode(task), raw: task.raw, coded: task.coded, refs: task.refs };
  }
  readonly workers = 0;
  restoreRunOn(_worker: number, run: RestoreRun): Promise<RunResult> {
    return restoreRun(run);
  }
  async whenReady(): Promise<void> {}
  async close(): Promise<void> {
    park(this, 1, () => {});
  }
}

/**
 * Tasks in flight per worker: enough that a worker never idles while the main thread waits its
 * turn to run; each costs a chunk's buffers (docs/DESIGN.md, "Workers").
 */
const QUEUE_PER_WORKER = 8;
/** Tasks queued on every worker from which this thread codes the next one itself. */
const INLINE_FROM = 4;

type TaskReply = {
  id: number;
  error?: string;
  code?: string;
  mithril?: { file: string; problem: string; code: ErrorCode };
  result?: EncodeResult;
  outcome?: DecodeOutcome;
  run?: RunResult;
};
type WorkerReply = TaskReply | { ready: true };

interface Pending {
  resolve: (reply: TaskReply) => void;
  reject: (error: Error) => void;
  worker: number;
}

class Pool implements Executor {
  readonly window: number;
  readonly sharesMemory = true;
  readonly buffers = taskBuffers(true);
  private readonly workerThreads: Worker[];
  /** Each worker's replies, on a port of their own so that they can be taken without the event loop (see collect). */
  private readonly replies: MessagePort[];
  private readonly busy: number[];
  /** Workers that have loaded their modules (starting one takes ~0.3 s of a core here). */
  private readonly ready: boolean[];
  private readonly started: Promise<unknown>;
  private readonly whenStarted: (() => void)[] = [];
  private readonly inline = new InProcess();
  get ran(): { here: number; onWorkers: number } {
    return { here: this.inline.ran.here, onWorkers: this.nextId };
  }
  private readonly pending = new Map<number, Pending>();
  private readonly views: SharedViewSender;
  private nextId = 0;
  /** Where the next task runs, once runsNextHere has told. */
  private nextHere: boolean | undefined;
  /** A worker failed: never parked for reuse. */
  private broken = false;

  /** `threads` coding threads: this one and `threads - 1` workers. */
  constructor(threads: number) {
    this.window = threads * QUEUE_PER_WORKER;
    const channels = Array.from({ length: threads - 1 }, () => new MessageChannel());
    this.workerThreads = channels.map(({ port2 }) => new Worker(new URL('./worker.js', import.meta.url), { workerData: { replies: port2 }, transferList: [port2] }));
    this.replies = channels.map(({ port1 }) => port1);
    this.busy = this.workerThreads.map(() => 0);
    this.ready = this.workerThreads.map(() => false);
    this.views = new SharedViewSender(this.workerThreads.length);
    this.started = Promise.all(this.workerThreads.map((worker, k) => new Promise<void>((resolve) => {
      this.whenStarted[k] = resolve;
      this.replies[k]!.on('message', (reply: WorkerReply) => this.receive(k, reply));
      worker.on('error', (error) => this.failAll(error));
    })));
  }

  /**
   * Takes the replies that have arrived without waiting for the event loop: this thread, coding
   * chunks itself, returns to it only when it awaits, so the workers' queues looked full long
   * after they ran dry (docs/DESIGN.md, "Workers").
   */
  private collect(): void {
    for (const [k, port] of this.replies.entries()) {
      for (let reply = receiveMessageOnPort(port); reply; reply = receiveMessageOnPort(port)) this.receive(k, reply.message as WorkerReply);
    }
  }

  private receive(worker: number, reply: WorkerReply): void {
    if (!('ready' in reply)) return this.settle(reply);
    this.ready[worker] = true;
    this.whenStarted[worker]!();
  }

  /**
   * This thread codes a task itself while no worker is ready (start-up then costs no throughput)
   * and whenever every worker has work queued: one worker fewer to start and to feed, and this
   * thread's share of the cores is not left idle (docs/DESIGN.md, "Workers").
   */
  runsNextHere(): boolean {
    this.collect();
    return (this.nextHere ??= this.busy.every((tasks, k) => !this.ready[k] || tasks >= INLINE_FROM));
  }

  private codesHere(): boolean {
    const here = this.runsNextHere();
    this.nextHere = undefined;
    return here;
  }

  async encode(task: EncodeTask): Promise<EncodeReply> {
    if (this.codesHere()) return this.inline.encode(task);
    const { result } = await this.send({ id: this.nextId++, encode: task });
    return { result: result!, raw: task.raw, out: task.out, refs: encodeRefs(task) };
  }

  async decode(task: DecodeTask): Promise<DecodeReply> {
    if (this.codesHere()) return this.inline.decode(task);
    const { outcome } = await this.send({ id: this.nextId++, decode: task });
    return { outcome: outcome!, raw: task.raw, coded: task.coded, refs: task.refs };
  }

  get workers(): number {
    return this.workerThreads.length;
  }

  async restoreRunOn(worker: number, run: RestoreRun): Promise<RunResult> {
    return (await this.sendTo(worker, { id: this.nextId++, restoreRun: run })).run!;
  }

  async whenReady(): Promise<void> {
    await this.started;
  }

  /** Parks the workers for reuse; tasks still running (after a failure) write into the buffers, so then they end. */
  async close(): Promise<void> {
    if (this.pending.size > 0 || this.broken) return this.terminate();
    for (const port of this.replies) port.unref();
    for (const worker of this.workerThreads) worker.unref();
    park(this, this.workerThreads.length + 1, () => void this.terminate());
  }

  reuse(): this {
    for (const worker of this.workerThreads) worker.ref();
    for (const port of this.replies) port.ref();
    return this;
  }

  private async terminate(): Promise<void> {
    await Promise.all(this.workerThreads.map((worker) => worker.terminate()));
  }

  /** Sends `request` to the ready worker with the fewest tasks. */
  private send(request: WorkerRequest): Promise<TaskReply> {
    const load = this.busy.map((tasks, k) => (this.ready[k] ? tasks : Infinity));
    return this.sendTo(load.indexOf(Math.min(...load)), request);
  }

  private sendTo(worker: number, request: WorkerRequest): Promise<TaskReply> {
    this.busy[worker]!++;
    return new Promise<TaskReply>((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject, worker });
      this.workerThreads[worker]!.postMessage(this.views.pack(request, worker));
    });
  }

  private settle(reply: TaskReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    this.busy[pending.worker]!--;
    if (reply.mithril) pending.reject(new MithrilError(reply.mithril.file, reply.mithril.problem, reply.mithril.code));
    else if (reply.error !== undefined) pending.reject(Object.assign(new Error(reply.error), reply.code ? { code: reply.code } : {}));
    else pending.resolve(reply);
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    this.broken = true;
  }
}

/**
 * Bytes of coding that pay for starting one worker (tens of MiB of memory and a share of the
 * cores); `--best` codes about ten times slower, so it pays sooner. See docs/DESIGN.md, "Workers".
 */
export const WORKER_MIN_BYTES = 64 * 1048576;
export const WORKER_MIN_BYTES_SLOW = 4 * 1048576;

/** How many of `threads` to use for `chunks` chunks holding `bytes` bytes: never more than there is work for. */
export function workersFor(threads: number, chunks: number, bytes: number, minBytes = WORKER_MIN_BYTES): number {
  return Math.max(1, Math.min(threads, chunks, Math.ceil(bytes / minBytes)));
}

/**
 * How long a closed executor is kept for the next call, with its workers (0.2-0.3 s of a core to
 * start each) and its buffers (fresh memory costs a page fault per 4 KiB): a program that codes
 * file after file pays for both once (docs/DESIGN.md, "Fresh memory").
 */
const PARKED_MS = 2000;
const parked: { executor: Executor; threads: number; timer: NodeJS.Timeout }[] = [];

function park(executor: Executor, threads: number, retire: () => void): void {
  const timer = setTimeout(() => {
    parked.splice(parked.findIndex((p) => p.executor === executor), 1);
    retire();
  }, PARKED_MS).unref();
  parked.push({ executor, threads, timer });
}

/** `threads` ≤ 1 runs in this thread; more starts `threads - 1` worker threads beside it (or reuses parked ones). */
export function createExecutor(threads: number): Executor {
  const count = Math.max(1, threads);
  const at = parked.findIndex((p) => p.threads === count);
  if (at >= 0) {
    const { executor, timer } = parked.splice(at, 1)[0]!;
    clearTimeout(timer);
    return executor instanceof Pool ? executor.reuse() : executor;
  }
  return count === 1 ? new InProcess() : new Pool(count);
}
