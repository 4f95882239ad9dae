import { decodeResidual, encodeResidual, fitBeta } from '../codec/residual.js';
import type { EncodedChunk } from '../codec/pipeline.js';
import type { BaseRef, DeltaRecord } from '../container/format.js';
import { DELTA_SPLIT, RESIDUAL_CODER } from '../container/validate.js';

export type DeltaDtype = DeltaRecord['dtype'];

export function isDeltaDtype(dtype: string | null): dtype is DeltaDtype {
  return dtype === 'BF16' || dtype === 'F16' || dtype === 'F32';
}

/**
 * Codes a chunk as residuals against the same bytes of a base (and, with `prev`, of an older
 * base too, predicting by a fitted extrapolation).
 */
export function encodeDeltaChunk(
  raw: Uint8Array,
  dtype: DeltaDtype,
  base: { ref: BaseRef; bytes: Uint8Array },
  prev?: { ref: BaseRef; bytes: Uint8Array },
): EncodedChunk & { delta: DeltaRecord } {
  const beta = prev ? fitBeta(dtype, base.bytes, prev.bytes, raw) : undefined;
  const coded = encodeResidual(dtype, base.bytes, raw, prev ? { prev: prev.bytes, beta } : undefined);
  const delta: DeltaRecord = prev ? { dtype, refs: [base.ref, prev.ref], beta } : { dtype, refs: [base.ref] };
  return {
    split: DELTA_SPLIT,
    streams: [{ coder: RESIDUAL_CODER, rawLength: raw.length, codedLength: coded.length }],
    payload: [coded],
    delta,
  };
}

export function decodeDeltaChunk(coded: Uint8Array, delta: DeltaRecord, readRef: (ref: BaseRef) => Uint8Array, dst: Uint8Array): void {
  const [baseRef, prevRef] = delta.refs;
  const options = prevRef ? { prev: readRef(prevRef), beta: delta.beta } : undefined;
  decodeResidual(delta.dtype, readRef(baseRef!), coded, dst, options);
}
