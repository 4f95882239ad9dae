/**
 * Fitting beta, the weight (numerator over 256, in [0, 256]) of the trend in the prediction from
 * an older base: pred = v_base + beta/256 · (v_base - v_prev) in the ULP-integer domain.
 */
import { words16, words32 } from '../codec/bytes.js';
import type { DeltaDtype } from '../dtypes.js';
import { kernels, wasmMemory } from '../kernels/index.js';
import { infoOf } from './contexts.js';
import { checkLengths } from './residual-format.js';
import { trend32, ulp16, ulp32 } from './ulp-map.js';

/** Elements sampled (evenly spaced). */
const BETA_SAMPLES = 4096;

/** Total bit length of the 32-bit residuals d1 - round(beta/256 · d0), wrapped like the coder's. */
function betaCost32(d0: Float64Array, d1: Float64Array, beta: number): number {
  let bits = 0;
  for (let j = 0; j < d0.length; j++) {
    const r = (d1[j]! - trend32(beta, d0[j]!)) | 0;
    bits += r === -0x80000000 ? 32 : 32 - Math.clz32(r < 0 ? -r : r);
  }
  return bits;
}

/**
 * Not plain least squares: a few elements that cross zero or jump exponents have ULP differences
 * thousands of times larger than the rest and would decide a least-squares fit alone. Instead beta
 * minimizes the total bit length of the residuals over a sample of up to BETA_SAMPLES elements,
 * searched coarse to fine.
 */
export function fitBeta(dtype: DeltaDtype, base: Uint8Array, prev: Uint8Array, next: Uint8Array): number {
  const info = infoOf(dtype);
  const n = checkLengths(info, base, next, 'next', prev);
  if (n === 0) return 0;
  const samples = Math.min(n, BETA_SAMPLES);
  const stride = n / samples;
  let cost: (beta: number) => number;
  if (info.size === 2) {
    const b = words16(base);
    const p = words16(prev);
    const x = words16(next);
    // In wasm memory for the SIMD cost kernel, padded to whole vectors with zero pairs (which cost nothing).
    const padded = (samples + 3) & ~3;
    const memory = wasmMemory(8 * padded);
    const d0 = new Int32Array(memory.buffer, 0, padded).fill(0);
    const d1 = new Int32Array(memory.buffer, 4 * padded, padded).fill(0);
    for (let j = 0; j < samples; j++) {
      const i = Math.floor(j * stride);
      const vb = ulp16(b[i]!);
      const vp = ulp16(p[i]!);
      const vx = ulp16(x[i]!);
      d0[j] = ((vb - vp) << 16) >> 16;
      d1[j] = ((vx - vb) << 16) >> 16;
    }
    cost = (beta) => kernels.betaCost16(0, 4 * padded, padded, beta);
  } else {
    const b = words32(base);
    const p = words32(prev);
    const x = words32(next);
    const d0 = new Float64Array(samples);
    const d1 = new Float64Array(samples);
    for (let j = 0; j < samples; j++) {
      const i = Math.floor(j * stride);
      const vb = ulp32(b[i]!);
      const vp = ulp32(p[i]!);
      const vx = ulp32(x[i]!);
      d0[j] = (vb - vp) | 0;
      d1[j] = (vx - vb) | 0;
    }
    cost = (beta) => betaCost32(d0, d1, beta);
  }
  let bestBeta = 0;
  let bestCost = cost(0);
  let lo = 0;
  let hi = 256;
  for (const step of [32, 8, 2, 1]) {
    for (let beta = lo; beta <= hi; beta += step) {
      if (beta === bestBeta) continue;
      const c = cost(beta);
      if (c < bestCost) {
        bestCost = c;
        bestBeta = beta;
      }
    }
    lo = Math.max(0, bestBeta - step + 1);
    hi = Math.min(256, bestBeta + step - 1);
  }
  return bestBeta;
}
