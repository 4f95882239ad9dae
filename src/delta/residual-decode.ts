/** Decoding the strong delta (./residual-encode.ts). */
import { storeWords, words16, words32 } from '../codec/bytes.js';
import { ransDecode } from '../codec/rans.js';
import type { DeltaDtype } from '../dtypes.js';
import { alphabetOf, infoOf, keyCountOf, type DtypeInfo } from './contexts.js';
import { BUCKETS, lowRankContexts } from './lowrank.js';
import { keys16, rebuild16 } from './passes16.js';
import { keys32, rebuild32 } from './passes32.js';
import type { ResidualOptions } from './residual-encode.js';
import { checkBeta, checkLengths, FLAG_LOWRANK, readSide, readStream } from './residual-format.js';
import { reserve, scratch } from './scratch.js';

/**
 * Decodes what encodeResidual produced into `dst` (same length as base), given the same base,
 * prev and beta. Throws an Error on malformed or mismatched input.
 */
export function decodeResidual(dtype: DeltaDtype, base: Uint8Array, coded: Uint8Array, dst: Uint8Array, options?: ResidualOptions): void {
  const info = infoOf(dtype);
  const prevBytes = options?.prev;
  const n = checkLengths(info, base, dst, 'dst', prevBytes);
  const beta = checkBeta(options?.beta, prevBytes !== undefined);
  const parts = readStream(dtype, info, coded, n, prevBytes !== undefined, beta, dst);
  if (parts === null) return;
  const hasLowRank = (parts.flags & FLAG_LOWRANK) !== 0;
  const keyCount = keyCountOf(info, prevBytes !== undefined, hasLowRank);
  const { lowRank, keyMap, model } = readSide(parts, keyCount, alphabetOf(info, hasLowRank));

  const rawWords = parts.rawWords;
  reserve(n, rawWords);
  const low = lowRank ? lowRankContexts(lowRank, scratch.low) : null;
  const tokens = scratch.tokens.subarray(0, n);
  // An aligned copy with spare zero words past the end (the rebuild loops read ahead).
  const raw = scratch.raw;
  raw.set(words16(parts.rawBytes));
  raw.fill(0, rawWords, rawWords + 4);
  ransDecodeChecked(model, parts.ransBytes, contextsOf(info, base, prevBytes, low, n), tokens, keyMap);
  let sum: number;
  if (info.size === 2) {
    sum = rebuild16(words16(base), prevBytes ? words16(prevBytes) : null, beta, low, tokens, raw, rawWords, dst);
  } else {
    const out = words32(dst);
    sum = rebuild32(words32(base), prevBytes ? words32(prevBytes) : null, beta, low, tokens, raw, rawWords, out);
    storeWords(out, dst);
  }
  if (sum !== parts.checksum) throw new Error('residual: checksum mismatch (stream is corrupt or base differs)');
}

/**
 * The decoder's context keys for rANS, computed per element from the bases (as the encoder's first
 * pass did), with the low-rank model's context values `low` if there is one.
 */
function contextsOf(info: DtypeInfo, base: Uint8Array, prev: Uint8Array | undefined, low: Uint8Array | null, n: number): Uint16Array {
  const keys = scratch.keys;
  if (info.size === 2) {
    keys16(info, words16(base), prev ? words16(prev) : null, low, keys);
    return keys;
  }
  keys32(info, words32(base), prev ? words32(prev) : null, keys);
  if (low !== null) {
    for (let i = 0; i < n; i++) keys[i] = keys[i]! * BUCKETS + (low[i]! & (BUCKETS - 1));
  }
  return keys;
}

/** The rANS stream depends on the base through the contexts: say so when it does not decode. */
function ransDecodeChecked(...args: Parameters<typeof ransDecode>): void {
  try {
    ransDecode(...args);
  } catch (e) {
    throw new Error(`residual: stream is corrupt or the base differs (${e instanceof Error ? e.message : String(e)})`);
  }
}
