/**
 * Static rANS (range asymmetric numeral systems) entropy coder with per-symbol contexts.
 *
 * - Symbols are bytes (alphabet ≤ 256); every symbol is coded with the frequency table of its
 *   context (≤ 256 contexts). The decoder must be given the same context sequence as the encoder
 *   (in mithril it is derived from data both sides already have).
 * - Frequencies are normalized to sum to 2^PRECISION_BITS (12 bits) in every context; every symbol
 *   that occurs gets a frequency ≥ 1.
 * - Four interleaved states (symbol i uses state i & 3) for instruction-level parallelism; each
 *   state lives in [2^15, 2^31), so all arithmetic stays in positive int32 range, and
 *   renormalization moves 16-bit words. The encoder runs backwards and writes the word stream
 *   backwards, so the decoder reads it forwards. The stream starts with the four final encoder
 *   states (8 words); a correct decode ends with all states back at their initial value and every
 *   word consumed, which the decoder checks.
 * - Tables are written compactly (see writeModel): per context the range of used symbols, one
 *   symbol whose frequency is the remainder, and the others' frequencies rounded to 4 significant
 *   bits (costs < 0.1% in coding efficiency, halves the table size).
 *
 * Decoding never reads or writes out of bounds and never loops more than once per symbol; a
 * malformed table or stream throws an Error.
 */

import { align16, kernels, wasmMemory } from '../kernels/index.js';
import type { BitReader, BitWriter } from './bits.js';

export const PRECISION_BITS = 12;
export const PRECISION = 1 << PRECISION_BITS;
/** Lower bound of the state interval [L, L << 16). */
const L = 1 << 15;
/** Interleaved states: symbol i uses state i & 3. */
const STATES = 4;
/** An encoder state x must satisfy x < freq << XMAX_SHIFT before coding a symbol of that freq. */
const XMAX_SHIFT = 31 - PRECISION_BITS;
/** Significant bits kept in transmitted frequencies (other than each context's remainder symbol). */
const FREQ_SIGNIFICANT_BITS = 4;

/** A frequency table per context: freq and cumulative freq of symbol s in context c at c * alphabet + s. */
export interface RansModel {
  readonly contexts: number;
  readonly alphabet: number;
  readonly freq: Uint16Array;
  readonly cum: Uint16Array;
}

// ---------------------------------------------------------------------------------------------
// Models

/** Rounds f ≥ 1 to FREQ_SIGNIFICANT_BITS significant bits (to nearest). */
function quantizeFreq(f: number): number {
  const n = 32 - Math.clz32(f);
  if (n <= FREQ_SIGNIFICANT_BITS) return f;
  const shift = n - FREQ_SIGNIFICANT_BITS;
  const q = ((f + (1 << (shift - 1))) >>> shift) << shift;
  return q;
}

/**
 * Builds a model from symbol counts (`counts[c * alphabet + s]`): normalized so every context sums
 * to PRECISION and every counted symbol gets ≥ 1. A context with no counts gets a table with symbol
 * 0 only. Frequencies are those writeModel can transmit exactly (readModel gives the same model).
 */
export function buildModel(counts: ArrayLike<number>, contexts: number, alphabet: number): RansModel {
  if (contexts < 1 || contexts > 256 || alphabet < 1 || alphabet > 256) throw new Error('rans: bad model size');
  const freq = new Uint16Array(contexts * alphabet);
  const cum = new Uint16Array(contexts * alphabet);
  for (let c = 0; c < contexts; c++) {
    const row = c * alphabet;
    let total = 0;
    let top = 0;
    for (let s = 0; s < alphabet; s++) {
      const k = counts[row + s]!;
      total += k;
      if (k > counts[row + top]!) top = s;
    }
    if (total === 0) {
      freq[row] = PRECISION;
    } else {
      normalizeRow(counts, row, alphabet, total, top, freq);
    }
    let sum = 0;
    for (let s = 0; s < alphabet; s++) {
      cum[row + s] = sum;
      sum += freq[row + s]!;
    }
  }
  return { contexts, alphabet, freq, cum };
}

function normalizeRow(counts: ArrayLike<number>, row: number, alphabet: number, total: number, top: number, freq: Uint16Array): void {
  // Scale, keep every present symbol ≥ 1, quantize all but `top`, which takes the remainder.
  const scale = PRECISION / total;
  let rest = PRECISION;
  for (let s = 0; s < alphabet; s++) {
    const k = counts[row + s]!;
    if (k === 0 || s === top) continue;
    const f = quantizeFreq(Math.max(1, Math.round(k * scale)));
    freq[row + s] = f;
    rest -= f;
  }
  // The remainder symbol must end up with the largest frequency (writeModel relies on it); if
  // rounding the others up pushed it below one of them, shrink the largest others by one step of
  // their last kept bit (they stay transmittable) until it is not.
  for (;;) {
    let big = -1;
    for (let s = 0; s < alphabet; s++) {
      if (s !== top && (big < 0 || freq[row + s]! > freq[row + big]!)) big = s;
    }
    if (big < 0 || rest >= freq[row + big]!) break;
    const f = freq[row + big]!;
    const lower = f - (1 << Math.max(0, 32 - Math.clz32(f) - FREQ_SIGNIFICANT_BITS));
    rest += f - lower;
    freq[row + big] = lower;
  }
  freq[row + top] = rest;
}

/**
 * Writes a model (contexts and alphabet are not written; the reader must know them).
 * Per context: first and last used symbol, the remainder symbol, then for every other symbol in
 * that range the bit length of its frequency (coded as a change from the previous one) and the
 * bits below the leading one that quantization kept.
 */
export function writeModel(model: RansModel, w: BitWriter): void {
  const { contexts, alphabet, freq } = model;
  const symBits = bitsFor(alphabet);
  for (let c = 0; c < contexts; c++) {
    const row = c * alphabet;
    let lo = 0;
    while (freq[row + lo] === 0) lo++;
    let hi = alphabet - 1;
    while (freq[row + hi] === 0) hi--;
    let top = lo;
    for (let s = lo; s <= hi; s++) if (freq[row + s]! > freq[row + top]!) top = s;
    w.write(lo, symBits);
    w.writeGamma(hi - lo);
    if (hi === lo) continue;
    w.write(top - lo, bitsFor(hi - lo + 1));
    let prevLen = 0;
    for (let s = lo; s <= hi; s++) {
      if (s === top) continue;
      const f = freq[row + s]!;
      const len = 32 - Math.clz32(f);
      writeLenDelta(w, len - prevLen, len);
      prevLen = len;
      if (len > 1) {
        const keep = Math.min(len - 1, FREQ_SIGNIFICANT_BITS - 1);
        w.write((f >>> (len - 1 - keep)) & ((1 << keep) - 1), keep);
      }
    }
  }
}

/** Length changes, bits in write order: 0 → 0; +1 → 1 0 0; -1 → 1 0 1; otherwise 1 1 and the 4-bit length. */
function writeLenDelta(w: BitWriter, delta: number, len: number): void {
  if (delta === 0) {
    w.write(0, 1);
  } else if (delta === 1 || delta === -1) {
    w.write(delta === 1 ? 0b001 : 0b101, 3);
  } else {
    w.write(0b11, 2);
    w.write(len, 4);
  }
}

/** Reads and validates a model written by writeModel. */
export function readModel(r: BitReader, contexts: number, alphabet: number): RansModel {
  if (contexts < 1 || contexts > 256 || alphabet < 1 || alphabet > 256) throw new Error('rans: bad model size');
  const freq = new Uint16Array(contexts * alphabet);
  const cum = new Uint16Array(contexts * alphabet);
  const symBits = bitsFor(alphabet);
  for (let c = 0; c < contexts; c++) {
    const row = c * alphabet;
    const lo = r.read(symBits);
    const span = r.readGamma();
    const hi = lo + span;
    if (hi >= alphabet) throw new Error('rans: symbol out of range in table');
    if (span === 0) {
      freq[row + lo] = PRECISION;
    } else {
      const top = lo + r.read(bitsFor(span + 1));
      if (top > hi) throw new Error('rans: symbol out of range in table');
      let len = 0;
      let sum = 0;
      for (let s = lo; s <= hi; s++) {
        if (s === top) continue;
        const code = r.read(1) === 0 ? 0 : 1 + r.read(1);
        if (code === 1) {
          len += r.read(1) === 0 ? 1 : -1;
        } else if (code === 2) {
          len = r.read(4);
        }
        if (len < 0 || len > PRECISION_BITS) throw new Error('rans: invalid frequency in table');
        let f = 0;
        if (len === 1) {
          f = 1;
        } else if (len > 1) {
          const keep = Math.min(len - 1, FREQ_SIGNIFICANT_BITS - 1);
          f = ((1 << keep) | r.read(keep)) << (len - 1 - keep);
        }
        freq[row + s] = f;
        sum += f;
      }
      if (sum >= PRECISION) throw new Error('rans: table frequencies exceed the total');
      freq[row + top] = PRECISION - sum;
    }
    let sum = 0;
    for (let s = 0; s < alphabet; s++) {
      cum[row + s] = sum;
      sum += freq[row + s]!;
    }
  }
  return { contexts, alphabet, freq, cum };
}

function bitsFor(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

/** Estimated size in bits of the part of writeModel for a context whose used symbols span [lo, hi]. */
export function estimateTableBits(lo: number, hi: number, alphabet: number): number {
  return bitsFor(alphabet) + 2 * (32 - Math.clz32(hi - lo + 1)) + (hi > lo ? 4 + 5.5 * (hi - lo) : 0);
}

// ---------------------------------------------------------------------------------------------
// Coding: the loops run in WebAssembly (ransEncode and ransDecode in src/codec/wasm/planes.wat);
// inputs are copied into its memory and results copied out.

const MAP_ENTRIES = 65536;

/**
 * Resolves the context sequence: `contexts[i]` mapped through `contextMap` when given (the map's
 * entries must be < model.contexts; keys beyond the map's end count as context 0), else used
 * directly (each must be < model.contexts). Returns the keys (none: all contexts are 0) and the map.
 */
function resolveContexts(model: RansModel, n: number, contexts: Uint16Array | null, contextMap: Uint8Array | undefined): [Uint16Array | null, Uint8Array] {
  if (contexts === null) return [null, new Uint8Array(1)];
  if (contexts.length < n) throw new Error('rans: fewer contexts than symbols');
  if (contextMap) {
    if (contextMap.length > MAP_ENTRIES) throw new Error('rans: context map is longer than the keys need');
    return [contexts, contextMap]; // its entries are checked where it is staged
  }
  for (let i = 0; i < n; i++) {
    if (contexts[i]! >= model.contexts) throw new Error(`rans: context ${contexts[i]} out of range`);
  }
  const identity = new Uint8Array(model.contexts);
  for (let c = 0; c < identity.length; c++) identity[c] = c;
  return [contexts, identity];
}

/**
 * Places the four states, the context map (zero-padded to every u16 key; each entry must be a
 * context of the model) and the keys at the start of wasm memory, grown to hold `more` bytes after
 * them; returns the memory and where `more` starts.
 */
function stage(model: RansModel, keys: Uint16Array | null, map: Uint8Array, n: number, more: number) {
  const statesAt = 0;
  const mapAt = 32;
  const keysAt = mapAt + MAP_ENTRIES;
  const moreAt = align16(keysAt + 2 * n);
  const memory = wasmMemory(moreAt + more);
  memory.set(map, mapAt);
  memory.fill(0, mapAt + map.length, mapAt + MAP_ENTRIES);
  if (kernels.maxByte(mapAt, MAP_ENTRIES) >= model.contexts) throw new Error('rans: context map entry out of range');
  if (keys) memory.set(new Uint8Array(keys.buffer, keys.byteOffset, 2 * n), keysAt);
  return { memory, statesAt, mapAt, keysAt, moreAt };
}

/** ryg_rans' division by a frequency as a multiply: q = x * rcp >> (32 + rshift), exact for x < 2^31. */
export function reciprocal(f: number): { rcp: number; rshift: number } {
  if (f === 1) return { rcp: 0xffffffff, rshift: 0 };
  const shift = 32 - Math.clz32(f - 1);
  return { rcp: Math.floor((2 ** (shift + 31) + f - 1) / f), rshift: shift - 1 };
}

/** The encoder's table (see ransEncode in planes.wat): four i32 per (context << shift | symbol). */
function encodeTable(model: RansModel, shift: number, table: Int32Array): void {
  const { contexts, alphabet, freq, cum } = model;
  table.fill(0);
  for (let c = 0; c < contexts; c++) {
    for (let s = 0; s < alphabet; s++) {
      const f = freq[c * alphabet + s]!;
      if (f === 0) continue;
      const { rcp, rshift } = reciprocal(f);
      const at = ((c << shift) | s) << 2;
      table[at] = f * (1 << XMAX_SHIFT) - 1;
      table[at + 1] = rcp | 0;
      table[at + 2] = cum[c * alphabet + s]! + (f === 1 ? PRECISION - 1 : 0);
      table[at + 3] = (PRECISION - f) | ((32 + rshift) << 16);
    }
  }
}

/**
 * Codes `symbols[i]` with the table of its context (see resolveContexts; all contexts are 0 when
 * `contexts` is null). Every (context, symbol) pair coded must have a nonzero frequency.
 */
export function ransEncode(model: RansModel, symbols: Uint8Array, contexts: Uint16Array | null, contextMap?: Uint8Array): Uint8Array {
  const n = symbols.length;
  const [keys, map] = resolveContexts(model, n, contexts, contextMap);
  const shift = bitsFor(model.alphabet);
  const entries = model.contexts << shift;
  // At most one word per symbol, plus the states.
  const outBytes = 2 * n + 4 * STATES;
  const { memory, statesAt, mapAt, keysAt, moreAt } = stage(model, keys, map, n, align16(n) + 16 * entries + outBytes);
  const symbolsAt = moreAt;
  const tableAt = symbolsAt + align16(n);
  const end = tableAt + 16 * entries + outBytes;
  memory.set(symbols, symbolsAt);
  encodeTable(model, shift, new Int32Array(memory.buffer, tableAt, 4 * entries));
  const states = new Int32Array(memory.buffer, statesAt, STATES).fill(L);
  const first = kernels.ransEncode(symbolsAt, keysAt, mapAt, n, tableAt, shift, statesAt, end);
  if (first === 0) throw new Error('rans: a symbol has no frequency in its context');
  // The stream starts with the final states, x0 first, each as its low word then its high word.
  new Uint16Array(memory.buffer, first - 4 * STATES, 2 * STATES).set(new Uint16Array(states.buffer, states.byteOffset, 2 * STATES));
  return memory.slice(first - 4 * STATES, end);
}

/** Fills the decoder's table: per context 2^PRECISION_BITS slots, slot -> symbol | (freq - 1) << 8 | cum << 20. */
function decodeTable(model: RansModel, table: Int32Array): void {
  const { contexts, alphabet, freq, cum } = model;
  for (let c = 0; c < contexts; c++) {
    const row = c * alphabet;
    const block = c << PRECISION_BITS;
    for (let s = 0; s < alphabet; s++) {
      const f = freq[row + s]!;
      if (f === 0) continue;
      const start = cum[row + s]!;
      table.fill(s | ((f - 1) << 8) | (start << 20), block + start, block + start + f);
    }
  }
}

/**
 * Decodes `out.length` symbols from `bytes` (exactly what ransEncode returned) with the same model
 * and context sequence. Throws if the stream is malformed: wrong length, states out of range, or
 * states or position not back where the encoder started.
 */
export function ransDecode(model: RansModel, bytes: Uint8Array, contexts: Uint16Array | null, out: Uint8Array, contextMap?: Uint8Array): void {
  const n = out.length;
  const [keys, map] = resolveContexts(model, n, contexts, contextMap);
  if (bytes.length < 4 * STATES || (bytes.length & 1) !== 0) throw new Error('rans: stream is truncated or misaligned');
  const end = bytes.length >>> 1;
  const tableBytes = 4 * (model.contexts << PRECISION_BITS);
  // Spare zero words after the stream: renormalization reads one word ahead, branch-free.
  const { memory, statesAt, mapAt, keysAt, moreAt } = stage(model, keys, map, n, tableBytes + align16(bytes.length + 2 * STATES) + n);
  const tableAt = moreAt;
  const wordsAt = tableAt + tableBytes;
  const outAt = wordsAt + align16(bytes.length + 2 * STATES);
  decodeTable(model, new Int32Array(memory.buffer, tableAt, tableBytes >> 2));
  memory.set(bytes, wordsAt);
  memory.fill(0, wordsAt + bytes.length, outAt);
  // The states, then the word position the decoder reached.
  const states = new Int32Array(memory.buffer, statesAt, STATES + 1);
  states.set(new Int32Array(memory.slice(wordsAt, wordsAt + 4 * STATES).buffer));
  if (states.subarray(0, STATES).some((x) => x < L)) throw new Error('rans: invalid initial state');
  const decoded = kernels.ransDecode(wordsAt, 2 * STATES, end, keysAt, mapAt, tableAt, outAt, n, statesAt);
  const pos = states[STATES]!;
  if (pos > end || decoded < n) throw new Error('rans: stream is truncated');
  if (pos !== end) throw new Error('rans: stream has trailing data');
  if (states.subarray(0, STATES).some((x) => x !== L)) throw new Error('rans: stream is corrupt (final state mismatch)');
  out.set(memory.subarray(outAt, outAt + n));
}
