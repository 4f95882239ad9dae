/**
 * The residual coder's stream, and the checks on its inputs.
 *
 * Stream: mode byte (0 stored: `next` verbatim, used when coding would not shrink it; 1 coded),
 * dtype/flags byte (0x10: prev, 0x20: low-rank model), varint element count, [varint beta],
 * [varint row length], u32 checksum, varint side-info bytes, varint raw words, side info ([the
 * low-rank model,] context ranges and rANS tables, bit-packed), padding to an even offset, raw bit
 * words (u16 LE), rANS stream.
 *
 * The checksum is Fletcher-style over the z values (complemented where negated): it detects
 * corruption of the raw bits or of the low-rank model, which rANS's own final-state check cannot see.
 */
import { BitReader, BitWriter } from '../codec/bits.js';
import { ByteReader, ByteWriter, littleEndianBytes } from '../codec/bytes.js';
import { readModel, writeModel, type RansModel } from '../codec/rans.js';
import type { DeltaDtype } from '../dtypes.js';
import type { DtypeInfo } from './contexts.js';
import { lowRankShape, readLowRank, writeLowRank, type LowRank } from './lowrank.js';
import { MAX_RANGES } from './ranges.js';

const MODE_STORED = 0;
const MODE_CODED = 1;
export const FLAG_PREV = 0x10;
export const FLAG_LOWRANK = 0x20;
/** Elements per call (keeps raw-bit offsets in int32 range); chunks are far smaller. */
const MAX_ELEMENTS = 1 << 26;

/** The element count of `base`, after checking `other` (and `prev`) match it. */
export function checkLengths(info: DtypeInfo, base: Uint8Array, other: Uint8Array, what: string, prev?: Uint8Array): number {
  if (base.length > MAX_ELEMENTS * info.size) throw new Error(`residual: ${base.length} bytes is more than one call codes (at most ${MAX_ELEMENTS} elements)`);
  if (other.length !== base.length) throw new Error(`residual: ${what} is ${other.length} bytes but base is ${base.length}`);
  if (base.length % info.size !== 0) throw new Error(`residual: ${base.length} bytes is not a whole number of ${info.size}-byte elements`);
  if (prev && prev.length !== base.length) throw new Error(`residual: prev is ${prev.length} bytes but base is ${base.length}`);
  return base.length / info.size;
}

export function checkBeta(beta: number | undefined, hasPrev: boolean): number {
  if (beta === undefined) return 0;
  if (!Number.isInteger(beta) || beta < 0 || beta > 256) throw new Error(`residual: beta must be an integer in [0, 256], got ${beta}`);
  if (!hasPrev && beta !== 0) throw new Error('residual: beta needs a prev base');
  return beta;
}

/** The checksum from its two running sums. */
export const finishChecksum = (s1: number, s2: number): number => (s1 ^ Math.imul(s2, -0x61c8864f)) >>> 0;

/** The raw bits must end in the last word, and the bits after them must be zero. */
export function checkRawEnd(raw: Uint16Array, rawWords: number, off: number): void {
  if ((off + 15) >> 4 !== rawWords || ((off & 15) !== 0 && raw[rawWords - 1]! >>> (off & 15) !== 0)) {
    throw new Error('residual: raw bit stream length mismatch (stream is corrupt)');
  }
}

export function storedStream(flags: number, next: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + next.length);
  out[0] = MODE_STORED;
  out[1] = flags;
  out.set(next, 2);
  return out;
}

/** The side information: the low-rank model if any, the context ranges' start keys after the first, the tables. */
export function writeSide(lowRank: LowRank | null, starts: number[], model: RansModel): Uint8Array {
  const side = new BitWriter();
  if (lowRank) writeLowRank(lowRank, side);
  side.writeGamma(starts.length);
  let last = 0;
  for (const s of starts) {
    side.writeGamma(s - last - 1);
    last = s;
  }
  writeModel(model, side);
  return side.finish();
}

export interface CodedFields {
  flags: number;
  count: number;
  /** With FLAG_PREV. */
  beta: number;
  /** With FLAG_LOWRANK: the row length. */
  cols: number;
  checksum: number;
}

export function codedStream(fields: CodedFields, side: Uint8Array, raw: Uint16Array, rans: Uint8Array): Uint8Array {
  const w = new ByteWriter(2 + 10 + 3 + 4 + 5 + 5 + side.length + 1 + raw.length * 2 + rans.length);
  w.byte(MODE_CODED);
  w.byte(fields.flags);
  w.varint(fields.count);
  if (fields.flags & FLAG_PREV) w.varint(fields.beta);
  if (fields.flags & FLAG_LOWRANK) w.varint(fields.cols);
  w.u32(fields.checksum);
  w.varint(side.length);
  w.varint(raw.length);
  w.bytes(side);
  if (w.pos & 1) w.byte(0);
  w.bytes(littleEndianBytes(raw));
  w.bytes(rans);
  return w.buf.slice(0, w.pos);
}

export interface CodedParts extends CodedFields {
  /** Reads the side information (see readSide). */
  side: BitReader;
  rawWords: number;
  rawBytes: Uint8Array;
  ransBytes: Uint8Array;
}

/**
 * Reads and checks a stream's header against what the decoder was given: n elements, an older
 * base or not, beta. A stored stream is copied into `dst` (returns null).
 */
export function readStream(dtype: DeltaDtype, info: DtypeInfo, coded: Uint8Array, n: number, hasPrev: boolean, beta: number, dst: Uint8Array): CodedParts | null {
  const r = new ByteReader(coded, 'residual');
  const mode = r.byte();
  const flags = r.byte();
  if ((flags & 0x0f) !== info.code) throw new Error(`residual: stream was coded for another dtype than ${dtype}`);
  if ((flags & ~(0x0f | FLAG_PREV | FLAG_LOWRANK)) !== 0) throw new Error('residual: unknown flags in stream');
  if (((flags & FLAG_PREV) !== 0) !== hasPrev) {
    throw new Error(hasPrev ? 'residual: stream was coded without a prev base, but one was given' : 'residual: stream was coded with a prev base, which is missing');
  }
  if (mode === MODE_STORED) {
    if (coded.length !== 2 + dst.length) throw new Error(`residual: stored stream has ${coded.length - 2} bytes, expected ${dst.length}`);
    dst.set(coded.subarray(2));
    return null;
  }
  if (mode !== MODE_CODED) throw new Error(`residual: unknown mode ${mode}`);
  const count = r.varint();
  if (count !== n) throw new Error(`residual: stream has ${count} elements, expected ${n}`);
  if (hasPrev) {
    const coded = r.varint();
    if (coded !== beta) throw new Error(`residual: stream was coded with beta ${coded}, decoder was given ${beta}`);
  }
  const hasLowRank = (flags & FLAG_LOWRANK) !== 0;
  const cols = hasLowRank ? r.varint() : 0;
  if (hasLowRank && !lowRankShape(n, cols)) throw new Error(`residual: low-rank model with rows of ${cols} elements does not fit ${n} elements`);
  const checksum = r.u32();
  const sideLength = r.varint();
  const rawWords = r.varint();
  const sideStart = r.pos;
  r.take(sideLength);
  if (r.pos & 1) r.take(1);
  const rawBytes = r.take(rawWords * 2);
  const side = new BitReader(coded, sideStart, sideStart + sideLength);
  return { flags, count, beta, cols, checksum, side, rawWords, rawBytes, ransBytes: coded.subarray(r.pos) };
}

/** Reads what writeSide wrote, for n elements: the low-rank model (if flagged), key → range map and tables. */
export function readSide(parts: CodedParts, keyCount: number, alphabet: number): { lowRank: LowRank | null; keyMap: Uint8Array; model: RansModel } {
  const { side, count: n, cols } = parts;
  const lowRank = parts.flags & FLAG_LOWRANK ? readLowRank(side, n / cols, cols) : null;
  const rangeCount = side.readGamma() + 1;
  if (rangeCount > MAX_RANGES) throw new Error('residual: too many context ranges');
  const keyMap = new Uint8Array(keyCount);
  let start = 0;
  for (let g = 1; g < rangeCount; g++) {
    const s = start + side.readGamma() + 1;
    if (s >= keyCount) throw new Error('residual: context range out of bounds');
    keyMap.fill(g - 1, start, s);
    start = s;
  }
  keyMap.fill(rangeCount - 1, start);
  return { lowRank, keyMap, model: readModel(side, rangeCount, alphabet) };
}
