/**
 * The residual coder's context model: per dtype where the exponent sits (the base exponent is the
 * first part of every context key), the trend buckets with an older base, and how many keys and
 * tokens there are.
 */
import type { DeltaDtype } from '../dtypes.js';
import { BUCKETS } from './lowrank.js';

export interface DtypeInfo {
  /** The dtype's code in the stream's flags byte. */
  code: number;
  /** Bytes per element. */
  size: number;
  expShift: number;
  expMask: number;
  /** Number of exponent values (context keys without prev). */
  exps: number;
  alphabet: number;
}

const INFO: Record<DeltaDtype, DtypeInfo> = {
  BF16: { code: 1, size: 2, expShift: 7, expMask: 0xff, exps: 256, alphabet: 64 },
  F16: { code: 2, size: 2, expShift: 10, expMask: 0x1f, exps: 32, alphabet: 64 },
  F32: { code: 3, size: 4, expShift: 23, expMask: 0xff, exps: 256, alphabet: 128 },
};

export function infoOf(dtype: DeltaDtype): DtypeInfo {
  const info = INFO[dtype];
  if (!info) throw new Error(`residual: unsupported dtype ${String(dtype)}`);
  return info;
}

/**
 * Trend buckets per exponent when `prev` is given, from d = v_base - v_prev: zigzag(d) for
 * -7 ≤ d < 7 (0..13), 14 for larger rises, 15 for larger falls.
 */
const TREND_BUCKETS = 16;
export const TREND_BITS = 4;

/** The trend bucket of the int32 difference d = v_base - v_prev (see TREND_BUCKETS); branch-free. */
export function trendBucket(d: number): number {
  const zd = (d << 1) ^ (d >> 31);
  const far = ((13 - zd) | zd) >> 31;
  return (zd & ~far) | ((14 - (d >> 31)) & far);
}

/** Context keys: the base exponent, × the trend bucket with prev, × the confidence bucket with a low-rank model. */
export function keyCountOf(info: DtypeInfo, hasPrev: boolean, hasLowRank: boolean): number {
  return info.exps * (hasPrev ? TREND_BUCKETS : 1) * (hasLowRank ? BUCKETS : 1);
}

/** Tokens: with a low-rank model, large ones carry the sign (the residual's lowest bit) too. */
export function alphabetOf(info: DtypeInfo, hasLowRank: boolean): number {
  return hasLowRank ? 2 * info.alphabet : info.alphabet;
}
