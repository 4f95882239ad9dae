/**
 * Runs every residual coding path once on a small input. V8 optimizes the hot loops while they run
 * on the first large chunk (on-stack replacement), before the code after them has ever run; that
 * code then lacks type feedback and is deoptimized later. Small inputs first give the optimizer
 * complete feedback, so the first large chunks run at full speed.
 */
import type { DeltaDtype } from '../dtypes.js';
import { fitBeta } from './beta.js';
import { decodeResidual } from './residual-decode.js';
import { encodeResidual } from './residual-encode.js';

let warm = false;

/** Once per thread, before the first delta chunk (not at import: commands without a base need none of it). */
export function warmUpResidualCoder(): void {
  if (warm) return;
  warm = true;
  const n = 67;
  const b16 = new Uint16Array(n);
  const x16 = new Uint16Array(n);
  const p16 = new Uint16Array(n);
  const b32 = new Uint32Array(n);
  const x32 = new Uint32Array(n);
  const p32 = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    b16[i] = 0x3c00 + ((i * 37) & 0x3ff);
    p16[i] = b16[i]! - (i % 5);
    x16[i] = b16[i]! + ((i * 7) % 9) - 4 + (i % 11 === 0 ? 900 : 0);
    b32[i] = 0x3c000000 + ((i * 0x12345) & 0x3ffffff);
    p32[i] = b32[i]! - (i % 5) * 1000;
    x32[i] = b32[i]! + ((i * 7) % 9) * 3000 - 12000 + (i % 11 === 0 ? 1e7 : 0);
  }
  const bytes = (a: Uint16Array | Uint32Array) => new Uint8Array(a.buffer);
  const cases: Array<[DeltaDtype, Uint8Array, Uint8Array, Uint8Array]> = [
    ['BF16', bytes(b16), bytes(x16), bytes(p16)],
    ['F16', bytes(b16), bytes(x16), bytes(p16)],
    ['F32', bytes(b32), bytes(x32), bytes(p32)],
  ];
  for (const [dtype, base, next, prev] of cases) {
    const dst = new Uint8Array(next.length);
    for (const options of [undefined, { prev, beta: 100 }]) {
      const coded = encodeResidual(dtype, base, next, options);
      decodeResidual(dtype, base, coded, dst, options);
    }
    fitBeta(dtype, base, prev, next);
  }
}
