import { createRequire } from 'node:module';
import type * as ZstdBinding from 'zstd-napi/binding.js';

// The binding is CommonJS re-exporting a native module, so ESM named imports cannot see its exports.
const { CCtx, DCtx, compressBound } = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof ZstdBinding;
type CCtx = ZstdBinding.CCtx;
type DCtx = ZstdBinding.DCtx;

/**
 * Entropy coders for one plane. All but `raw` produce standard zstd frames, so one decoder
 * serves them all; the name records how the frame was made (for `info` and for choosing).
 */
export type CoderName = 'raw' | 'huf' | 'zstd1' | 'zstd19';

/** zstd's experimental ZSTD_c_literalCompressionMode; the binding's enum does not list it. */
const LITERAL_COMPRESSION_MODE = 1002;
const LITERALS_HUFFMAN = 1;

function context(level: number, forceHuffman: boolean): CCtx {
  const ctx = new CCtx();
  ctx.setParameter(100 /* compressionLevel */, level);
  ctx.setParameter(200 /* contentSizeFlag */, 1);
  if (forceHuffman) ctx.setParameter(LITERAL_COMPRESSION_MODE, LITERALS_HUFFMAN);
  return ctx;
}

/** Lazily made contexts, one set per thread (each worker loads this module anew). */
let contexts: Record<Exclude<CoderName, 'raw'>, CCtx> | undefined;
let decoder: DCtx | undefined;

function compressor(name: Exclude<CoderName, 'raw'>): CCtx {
  contexts ??= {
    // A very negative level turns off LZ matching; forcing literal compression keeps Huffman on.
    huf: context(-500, true),
    zstd1: context(1, false),
    zstd19: context(19, false),
  };
  return contexts[name];
}

/** The most bytes coding `length` bytes can take, whatever the coder. */
export function codedBound(length: number): number {
  return compressBound(length);
}

/** Encodes `src` into `dst` (which has room for `codedBound(src.length)` bytes); returns the coded length. */
export function encodeInto(name: CoderName, src: Uint8Array, dst: Uint8Array): number {
  if (name === 'raw') {
    dst.set(src);
    return src.length;
  }
  return compressor(name).compress2(dst, src);
}

let scratch = new Uint8Array(0);

/** Encodes `src`; returns a view into a shared scratch buffer, valid until the next call. */
export function encodeWith(name: CoderName, src: Uint8Array): Uint8Array {
  if (name === 'raw') return src;
  const bound = codedBound(src.length);
  if (scratch.length < bound) scratch = new Uint8Array(Math.max(bound, scratch.length * 2));
  return scratch.subarray(0, encodeInto(name, src, scratch));
}

/** Decodes `src` into `dst`, which must be exactly the original length. */
export function decodeWith(name: CoderName, src: Uint8Array, dst: Uint8Array): void {
  if (name === 'raw') {
    if (src.length !== dst.length) throw new Error(`raw plane has ${src.length} bytes, expected ${dst.length}`);
    dst.set(src);
    return;
  }
  decoder ??= new DCtx();
  const written = decoder.decompress(dst, src);
  if (written !== dst.length) throw new Error(`plane decoded to ${written} bytes, expected ${dst.length}`);
}

export function isCoderName(name: unknown): name is CoderName {
  return name === 'raw' || name === 'huf' || name === 'zstd1' || name === 'zstd19';
}
