import { decodeChunk, decodePlanes, encodeChunk, encodePlanes, type EncodedChunk, type EncodeOptions, type StreamRecord } from '../codec/pipeline.js';
import { splitByName } from '../codec/splits.js';
import { residualSplit, type BaseRef, type DeltaRecord } from '../container/format.js';
import { DELTA_SPLIT, RESIDUAL_CODER } from '../container/validate.js';
import type { DeltaDtype } from '../dtypes.js';
import { fitBeta } from './beta.js';
import { decodeResidual } from './residual-decode.js';
import { encodeResidual } from './residual-encode.js';
import { reserveRestore16, ulpPlanes16, ulpResiduals, ulpRestore, ulpRestorePlanes16, type Prediction } from './ulp.js';
import { warmUpResidualCoder } from './warm-up.js';

/** A chunk's counterpart in a base checkpoint: where it is, and its bytes. */
export interface PairedBytes {
  ref: BaseRef;
  bytes: Uint8Array;
}

/** Residuals of the chunk being coded or decoded, reused (fresh memory is slow to touch). */
let residuals = new Uint8Array(0);

function residualBuffer(length: number): Uint8Array {
  if (residuals.length < length) residuals = new Uint8Array(length + (length >> 2));
  return residuals.subarray(0, length);
}

/**
 * Codes a chunk against the same bytes of a base (and, with `prev`, of an older base too,
 * predicting by a fitted extrapolation). Fast: ULP residuals in byte planes, each coded like any
 * plane. Strong: residual tokens entropy-coded with rANS in contexts of the base exponent (and,
 * given `rowLength`, maybe of a low-rank model of the residual signs).
 */
export function encodeDeltaChunk(
  raw: Uint8Array,
  dtype: DeltaDtype,
  base: PairedBytes,
  prev: PairedBytes | undefined,
  strong: boolean,
  planeOptions: EncodeOptions,
  rowLength?: number,
): EncodedChunk & { delta: DeltaRecord } {
  warmUpResidualCoder();
  const beta = prev ? fitBeta(dtype, base.bytes, prev.bytes, raw) : undefined;
  const refs = prev ? [base.ref, prev.ref] : [base.ref];
  const prediction: Prediction | undefined = prev ? { prev: prev.bytes, beta: beta! } : undefined;
  if (strong) {
    const coded = encodeResidual(dtype, base.bytes, raw, { ...prediction, rowLength });
    return {
      split: DELTA_SPLIT,
      streams: [{ coder: RESIDUAL_CODER, rawLength: raw.length, codedLength: coded.length }],
      payload: [coded],
      delta: { dtype, coding: 'rans', refs, ...(prev ? { beta } : {}) },
    };
  }
  let coded: EncodedChunk;
  if (dtype !== 'F32') {
    coded = encodePlanes(ulpPlanes16(base.bytes, raw, prediction), residualSplit(dtype), planeOptions);
  } else {
    const z = residualBuffer(raw.length);
    ulpResiduals(dtype, base.bytes, raw, z, prediction);
    coded = encodeChunk(z, splitByName(residualSplit(dtype))!, planeOptions);
  }
  return { ...coded, delta: { dtype, coding: 'planes', refs, ...(prev ? { beta } : {}) } };
}

export function decodeDeltaChunk(
  coded: Uint8Array,
  split: string,
  streams: readonly StreamRecord[],
  delta: DeltaRecord,
  refs: readonly Uint8Array[],
  dst: Uint8Array,
): void {
  warmUpResidualCoder();
  const [base, prev] = refs;
  const prediction = prev ? { prev, beta: delta.beta! } : undefined;
  if (delta.coding === 'rans') {
    decodeResidual(delta.dtype, base!, coded, dst, prediction);
    return;
  }
  if (delta.dtype !== 'F32') {
    reserveRestore16(dst);
    ulpRestorePlanes16(base!, decodePlanes(coded, split, streams, dst), dst, prediction);
    return;
  }
  const z = residualBuffer(dst.length);
  decodeChunk(coded, split, streams, z);
  ulpRestore(delta.dtype, base!, z, dst, prediction);
}
