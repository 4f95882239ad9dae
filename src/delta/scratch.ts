/**
 * Buffers the residual coder reuses across calls (fresh memory is slow to touch; everything here
 * is synchronous, one call at a time per thread), and the context histogram kept zero between calls.
 */

export const scratch = {
  /** Per element: its token, its context key, and with a low-rank model its context value (lowrank.ts). */
  tokens: new Uint8Array(0),
  keys: new Uint16Array(0),
  low: new Uint8Array(0),
  /** The encoder's zigzagged 16-bit residuals and their signs (for fitting a low-rank model). */
  z: new Uint16Array(0),
  signs: new Int8Array(0),
  /** Raw bits, in u16 words. */
  raw: new Uint16Array(0),
};

/** Makes the buffers hold n elements and `rawWords` raw words. */
export function reserve(n: number, rawWords: number): void {
  if (scratch.tokens.length < n) {
    scratch.tokens = new Uint8Array(n);
    scratch.keys = new Uint16Array(n);
    scratch.low = new Uint8Array(n);
    scratch.z = new Uint16Array(n);
    scratch.signs = new Int8Array(n);
  }
  // Spare words: the encoder stores one word ahead, the decoder reads up to two past the end.
  if (scratch.raw.length < rawWords + 4) scratch.raw = new Uint16Array(rawWords + 4);
}

/** What the encoder's first pass returns besides the tokens, keys and raw bits it leaves in `scratch`. */
export interface FirstPass {
  rawWords: number;
  checksum: number;
  /** Smallest and largest context key that occurred. */
  keyMin: number;
  keyMax: number;
}

let histBuf = new Int32Array(0);
/**
 * The histogram (keys × tokens) is kept all zero between calls: the encoder clears only the rows
 * it used (releaseHist), so small chunks do not pay for clearing a large key space. After an
 * exception midway the whole buffer is cleared on the next call.
 */
let histDirty = false;

export function zeroHist(size: number): Int32Array {
  if (histBuf.length < size) {
    histBuf = new Int32Array(size);
    histDirty = false;
  }
  if (histDirty) histBuf.fill(0);
  histDirty = true;
  return histBuf.subarray(0, size);
}

export function releaseHist(hist: Int32Array, present: number[], alphabet: number): void {
  for (const key of present) hist.fill(0, key * alphabet, (key + 1) * alphabet);
  histDirty = false;
}
