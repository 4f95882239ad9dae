// The one loader of the WebAssembly kernels (src/kernels/*.wat, assembled by scripts/build-wasm.mjs
// into one module, built with an ordinary and with a shared memory): one instance for every caller,
// and one of the shared build for the plane kernels working in place on staged I/O (plane-memory.ts).
import { readFileSync } from 'node:fs';

/** The kernels' exports; addresses are byte offsets into `memory`, each kernel documented in its .wat file. */
export interface Kernels {
  memory: WebAssembly.Memory;
  split16(src: number, exp: number, rest: number, groups: number): void;
  merge16(exp: number, rest: number, dst: number, groups: number): void;
  split32(src: number, exp: number, high: number, mid: number, low: number, groups: number, bits: number): void;
  merge32(exp: number, high: number, mid: number, low: number, dst: number, groups: number, bits: number): void;
  split2(src: number, p0: number, p1: number, groups: number): void;
  merge2(p0: number, p1: number, dst: number, groups: number): void;
  ulpSplit16(base: number, prev: number, next: number, lo: number, hi: number, groups: number, beta: number): void;
  ulpMerge16(base: number, prev: number, lo: number, hi: number, dst: number, groups: number, beta: number): void;
  betaCost16(d0: number, d1: number, n: number, beta: number): number;
  residual16(base: number, prev: number, next: number, n: number, beta: number): void;
  signs16(z: number, n: number, out: number): void;
  rowDots(signs: number, v: number, stride: number, rows: number, cols: number, out: number): void;
  tokens16(residuals: number, n: number, tokens: number, keys: number, raw: number, hist: number, low: number, signed: number, histShift: number, out: number): void;
  ransEncode(symbols: number, keys: number, map: number, n: number, table: number, shift: number, states: number, end: number): number;
  keys16(base: number, prev: number, low: number, n: number, keys: number, expShift: number, expMask: number, keyShift: number, lowShift: number, out: number): void;
  lowRank16(u: number, v: number, stride: number, rows: number, cols: number, t1: number, t2: number, t3: number, out: number): void;
  subspaceMultiply(signs: number, m: number, cols: number, v: number, w: number): void;
  subspaceMultiplyT(signs: number, m: number, cols: number, w: number, v: number): void;
  sampleStats(signs: number, m: number, cols: number, u: number, v: number, stride: number, hist: number, out: number): void;
  maxByte(at: number, n: number): number;
  rebuild16(base: number, prev: number, tokens: number, raw: number, rawBits: number, z: number, n: number, beta: number, low: number, signed: number, out: number): void;
  ransDecode(words: number, pos: number, end: number, keys: number, map: number, table: number, out: number, n: number, states: number): number;
}

/** Elements per group of the plane and ULP kernels. */
export const GROUP = 16;
const PAGE = 65536;

/** A new instance of a build of the kernels module (`file` beside this one). */
export const instantiate = (file: string): Kernels => new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL(file, import.meta.url)))).exports as unknown as Kernels;

/** The instance of every kernel on ordinary memory: each call copies its inputs in from address 0. */
export const kernels = instantiate('./kernels.wasm');

export const align16 = (n: number): number => (n + 15) & ~15;

/** `instance`'s memory (by default the kernels'), grown to at least `bytes` (which detaches earlier views of an ordinary memory). */
export function wasmMemory(bytes: number, instance: Kernels = kernels): Uint8Array {
  const have = instance.memory.buffer.byteLength;
  if (have < bytes) instance.memory.grow(Math.ceil((bytes - have) / PAGE));
  return new Uint8Array(instance.memory.buffer);
}
