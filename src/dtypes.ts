/** Bytes per element of the dtypes we know, spelled as safetensors spells them; others are plain bytes. */
const ELEMENT_SIZES = new Map<string, number>([
  ['BOOL', 1], ['U8', 1], ['I8', 1], ['F8_E4M3', 1], ['F8_E5M2', 1], ['F8_E8M0', 1],
  ['I16', 2], ['U16', 2], ['F16', 2], ['BF16', 2],
  ['I32', 4], ['U32', 4], ['F32', 4],
  ['I64', 8], ['U64', 8], ['F64', 8],
]);

export function elementSize(dtype: string): number | undefined {
  return ELEMENT_SIZES.get(dtype);
}

/** The float dtypes chunks can be coded as deltas of. */
export type DeltaDtype = 'BF16' | 'F16' | 'F32';

export function isDeltaDtype(dtype: string | null): dtype is DeltaDtype {
  return dtype === 'BF16' || dtype === 'F16' || dtype === 'F32';
}
