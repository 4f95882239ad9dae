/**
 * The ULP map of the delta codings, for the plain-TS loops (the WebAssembly kernels in
 * codec/wasm/planes.wat compute the same): a float's bits as an order-preserving integer
 * (sign-magnitude made two's complement, a bijection that is its own inverse), and the prediction
 * from an older base, pred = ulp(base) + trend.
 */

/** For 16-bit floats (the low 16 bits count; the result's too). */
export const ulp16 = (w: number): number => w ^ (((w << 16) >> 31) & 0x7fff);

/** For 32-bit floats, as int32. */
export const ulp32 = (w: number): number => w ^ ((w >> 31) & 0x7fffffff);

/** (beta · d + 128) >> 8 with d = int16(vb - vp), vb and vp the ULP integers of base and older base. */
export const trend16 = (beta: number, vb: number, vp: number): number => (beta * (((vb - vp) << 16) >> 16) + 128) >> 8;

/** floor((beta · d + 128) / 256) for the int32 difference d = ulp(base) - ulp(older base) (beta · d may exceed int32). */
export const trend32 = (beta: number, d: number): number => Math.floor((beta * d + 128) / 256);

/** A 16-bit element's prediction from the ULP integers of base and older base (to be wrapped to 16 bits). */
export const predict16 = (beta: number, vb: number, vp: number): number => vb + trend16(beta, vb, vp);

/** A 32-bit element's prediction from the ULP integers of base and older base, as int32. */
export const predict32 = (beta: number, vb: number, vp: number): number => (vb + trend32(beta, (vb - vp) | 0)) | 0;
