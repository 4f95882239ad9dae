/**
 * The strong delta: residual coding of a float tensor chunk against the same chunk of a base
 * checkpoint (decoded by ./residual-decode.ts; stream in ./residual-format.ts).
 *
 * 1. ULP map (./ulp-map.ts): each element's bits become an order-preserving signed integer v. The
 *    residual v_next - pred is taken modulo 2^16 / 2^32 (a bijection) and zigzag-mapped to an
 *    unsigned z. pred = v_base, or with an older base `prev`: v_base + round(beta/256 · (v_base - v_prev)).
 * 2. Hybrid-uint tokens (JPEG XL style): z < 16 is its own token; otherwise with n = floor(log2 z)
 *    the token is 4n + the 2 bits below the leading one, and the n - 2 lower bits go raw to a
 *    separate bit stream. 64 tokens for 16-bit dtypes, 128 for F32. With a low-rank model the sign
 *    (z's lowest bit) is predictable, so a large z keeps it in the token: with y = z >> 1 and
 *    n = floor(log2 y), the token is 16 + 2 · (4(n - 3) + the 2 bits below y's leading one) + (z & 1),
 *    and n - 2 lower bits of y go raw.
 * 3. Context (./contexts.ts): the base element's exponent, with `prev` a bucket of v_base - v_prev
 *    (how far and which way this weight moved last time), and with a low-rank sign model
 *    (./lowrank.ts, given `rowLength`) its confidence bucket, the residual being negated where the
 *    model predicts a negative sign. The contexts that occur are partitioned into ranges
 *    (./ranges.ts), each with a table; tokens are coded with static rANS (codec/rans.ts).
 */
import { words16, words32 } from '../codec/bytes.js';
import { buildModel, ransEncode } from '../codec/rans.js';
import type { DeltaDtype } from '../dtypes.js';
import { alphabetOf, infoOf, keyCountOf } from './contexts.js';
import { fitLowRank, lowRankContexts, lowRankShape, type LowRank } from './lowrank.js';
import { residuals16, signs16, tokens16 } from './passes16.js';
import { pass32, signs32 } from './passes32.js';
import { chooseRanges, keyMapOf, presentKeys } from './ranges.js';
import { checkBeta, checkLengths, codedStream, FLAG_LOWRANK, FLAG_PREV, storedStream, writeSide } from './residual-format.js';
import { releaseHist, reserve, scratch, zeroHist } from './scratch.js';

export interface ResidualOptions {
  /** A second, older base: predicts from the trend base - prev. Same length as base. */
  prev?: Uint8Array;
  /** Numerator over 256 of the trend weight, an integer in [0, 256] (see fitBeta); default 0. */
  beta?: number;
  /** Elements per row of the tensor when the chunk is whole rows: allows a low-rank sign model (encoder only). */
  rowLength?: number;
}

/** A low-rank sign model for the chunk when it has whole rows and the model pays; `z16`: the residuals of 16-bit elements. */
function lowRankFor(base: Uint8Array, next: Uint8Array, prev: Uint8Array | undefined, beta: number, n: number, cols: number | undefined, z16: Uint16Array | null): LowRank | null {
  if (!lowRankShape(n, cols)) return null;
  const signs = z16 ? signs16(z16) : signs32(words32(base), words32(next), prev ? words32(prev) : null, beta);
  return fitLowRank(signs, n / cols!, cols!);
}

/** Codes `next` given `base` (same length, whole elements); returns a self-contained byte stream. */
export function encodeResidual(dtype: DeltaDtype, base: Uint8Array, next: Uint8Array, options?: ResidualOptions): Uint8Array {
  const info = infoOf(dtype);
  const prevBytes = options?.prev;
  const n = checkLengths(info, base, next, 'next', prevBytes);
  const beta = checkBeta(options?.beta, prevBytes !== undefined);
  reserve(n, info.size === 2 ? n + 1 : 2 * n + 1);
  const z16 = info.size === 2 && n > 0 ? residuals16(words16(base), words16(next), prevBytes ? words16(prevBytes) : null, beta) : null;
  const lowRank = lowRankFor(base, next, prevBytes, beta, n, options?.rowLength, z16);
  const flags = info.code | (prevBytes ? FLAG_PREV : 0) | (lowRank ? FLAG_LOWRANK : 0);
  if (n === 0) return storedStream(flags, next);

  const keyCount = keyCountOf(info, prevBytes !== undefined, lowRank !== null);
  const alphabet = alphabetOf(info, lowRank !== null);
  const hist = zeroHist(keyCount * alphabet);
  const low = lowRank ? lowRankContexts(lowRank, scratch.low) : null;
  const p1 =
    info.size === 2
      ? tokens16(info, words16(base), z16!, prevBytes ? words16(prevBytes) : null, low, hist)
      : pass32(info, words32(base), words32(next), prevBytes ? words32(prevBytes) : null, beta, low, hist);

  const present = presentKeys(hist, p1.keyMin, p1.keyMax, alphabet);
  const starts = chooseRanges(hist, present, alphabet);
  const ranges = starts.length + 1;
  const keyMap = keyMapOf(starts, keyCount);
  const counts = new Uint32Array(ranges * alphabet);
  for (const key of present) {
    const src = key * alphabet;
    const dst = keyMap[key]! * alphabet;
    for (let s = 0; s < alphabet; s++) counts[dst + s] += hist[src + s]!;
  }
  releaseHist(hist, present, alphabet);
  const model = buildModel(counts, ranges, alphabet);
  // The first pass stored every element's key.
  const rans = ransEncode(model, scratch.tokens.subarray(0, n), scratch.keys, keyMap);
  const fields = { flags, count: n, beta, cols: lowRank?.cols ?? 0, checksum: p1.checksum };
  const coded = codedStream(fields, writeSide(lowRank, starts, model), scratch.raw.subarray(0, p1.rawWords), rans);
  return coded.length >= 2 + next.length ? storedStream(flags, next) : coded;
}
