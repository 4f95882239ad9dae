/**
 * The residual coder's passes over 32-bit elements, in plain TS (the same arithmetic as the 16-bit
 * kernels in planes.wat, on int32 ULP integers).
 */
import { TREND_BITS, trendBucket, type DtypeInfo } from './contexts.js';
import { BUCKETS, FLIP_SHIFT } from './lowrank.js';
import { checkRawEnd, finishChecksum } from './residual-format.js';
import { scratch, type FirstPass } from './scratch.js';
import { predict32, ulp32 } from './ulp-map.js';

/**
 * The encoder's first pass: tokens, context keys and raw bits into `scratch`, counts into `hist`,
 * with a low-rank model's context values in `low` if there is one.
 */
export function pass32(info: DtypeInfo, base: Int32Array, next: Int32Array, prev: Int32Array | null, beta: number, low: Uint8Array | null, hist: Int32Array): FirstPass {
  const signed = low !== null ? 1 : 0;
  const histShift = 7 + signed;
  const n = next.length;
  const { tokens, keys, raw } = scratch;
  const expShift = info.expShift;
  const expMask = info.expMask;
  let acc = 0;
  let off = 0;
  let s1 = 0;
  let s2 = 0;
  let keyMin = 0x7fffffff;
  let keyMax = -1;
  for (let i = 0; i < n; i++) {
    const b = base[i]!;
    const vb = ulp32(b);
    const vx = ulp32(next[i]!);
    let key = (b >>> expShift) & expMask;
    let pred = vb;
    if (prev !== null) {
      const vp = ulp32(prev[i]!);
      if (beta !== 0) pred = predict32(beta, vb, vp);
      key = (key << TREND_BITS) | trendBucket((vb - vp) | 0);
    }
    let r = (vx - pred) | 0;
    let m = 0;
    if (low !== null) {
      const l = low[i]!;
      key = key * BUCKETS + (l & (BUCKETS - 1));
      m = -(l >> FLIP_SHIFT);
      r = ((r ^ m) - m) | 0;
    }
    const z = (r << 1) ^ (r >> 31);
    s1 = (s1 + (z ^ m)) | 0;
    s2 = (s2 + s1) | 0;
    let t = z;
    if (z >>> 4 !== 0) {
      // With a low-rank model, signed tokens (as tokens16 in planes.wat).
      const y = z >>> signed;
      const nb = 31 - Math.clz32(y);
      let k = nb - 2;
      const top = ((y >>> k) & 3) | (nb << 2);
      t = signed ? 16 + ((top - 12) << 1) + (z & 1) : top;
      let bits = y & ((1 << k) - 1);
      if (k > 16) {
        acc |= (bits & 0xffff) << (off & 15);
        raw[off >> 4] = acc;
        acc >>>= 16;
        off += 16;
        bits >>>= 16;
        k -= 16;
      }
      const w = off >> 4;
      acc |= bits << (off & 15);
      raw[w] = acc;
      off += k;
      acc >>>= ((off >> 4) - w) << 4;
    }
    if (key < keyMin) keyMin = key;
    if (key > keyMax) keyMax = key;
    tokens[i] = t;
    keys[i] = key;
    hist[(key << histShift) | t]++;
  }
  raw[off >> 4] = acc;
  return { rawWords: (off + 15) >> 4, checksum: finishChecksum(s1, s2), keyMin, keyMax };
}

/** The signs (-1, 0, 1) of 32-bit residuals (before any negation) into scratch.signs, for fitting a low-rank model. */
export function signs32(base: Int32Array, next: Int32Array, prev: Int32Array | null, beta: number): Int8Array {
  const out = scratch.signs.subarray(0, next.length);
  for (let i = 0; i < out.length; i++) {
    const vb = ulp32(base[i]!);
    const pred = prev !== null && beta !== 0 ? predict32(beta, vb, ulp32(prev[i]!)) : vb;
    const r = (ulp32(next[i]!) - pred) | 0;
    out[i] = (r >> 31) | (-r >>> 31);
  }
  return out;
}

/** The context keys of 32-bit elements (without the low-rank part) into `keys`. */
export function keys32(info: DtypeInfo, base: Int32Array, prev: Int32Array | null, keys: Uint16Array): void {
  const n = base.length;
  const expShift = info.expShift;
  const expMask = info.expMask;
  if (prev === null) {
    for (let i = 0; i < n; i++) keys[i] = (base[i]! >>> expShift) & expMask;
    return;
  }
  for (let i = 0; i < n; i++) {
    const b = base[i]!;
    keys[i] = (((b >>> expShift) & expMask) << TREND_BITS) | trendBucket((ulp32(b) - ulp32(prev[i]!)) | 0);
  }
}

/** The decoder's last step: tokens + raw bits + base (+ prev) → elements in `out`; returns the checksum. */
export function rebuild32(base: Int32Array, prev: Int32Array | null, beta: number, flips: Uint8Array | null, tokens: Uint8Array, raw: Uint16Array, rawWords: number, out: Int32Array): number {
  const n = out.length;
  const rawBits = rawWords * 16;
  let off = 0;
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n && off <= rawBits; i++) {
    const t = tokens[i]!;
    let z = t;
    if (t >= 16) {
      // k ≤ 29 raw bits: 16 from the 32 bits at word off >> 4, the rest from the next window.
      const k = flips !== null ? ((t - 16) >> 3) + 1 : (t >> 2) - 2;
      const w = off >> 4;
      const sh = off & 15;
      const low = ((raw[w]! | (raw[w + 1]! << 16)) >>> sh) & 0xffff;
      let bits: number;
      if (k > 16) {
        bits = low | ((((raw[w + 1]! | (raw[w + 2]! << 16)) >>> sh) & ((1 << (k - 16)) - 1)) << 16);
      } else {
        bits = low & ((1 << k) - 1);
      }
      off += k;
      z = flips !== null ? ((((4 | ((t >> 1) & 3)) << k) | bits) << 1) | (t & 1) : ((4 | (t & 3)) << k) | bits;
    }
    const m = flips !== null ? -(flips[i]! >> FLIP_SHIFT) : 0;
    s1 = (s1 + (z ^ m)) | 0;
    s2 = (s2 + s1) | 0;
    const vb = ulp32(base[i]!);
    const pred = prev !== null && beta !== 0 ? predict32(beta, vb, ulp32(prev[i]!)) : vb;
    out[i] = ulp32((pred + ((((z >>> 1) ^ -(z & 1)) ^ m) - m)) | 0);
  }
  checkRawEnd(raw, rawWords, off);
  return finishChecksum(s1, s2);
}
