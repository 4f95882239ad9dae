import { bitSplit16, bitSplit32, identity, splitByName, type PlaneSplit } from './planes.js';

/** Element size in bytes of the dtypes we know; anything else is kept as plain bytes. */
const ELEMENT_SIZE: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

export function elementSize(dtype: string): number | undefined {
  return ELEMENT_SIZE[dtype];
}

/** How a tensor of this dtype is split into planes before entropy coding. */
export function splitForDtype(dtype: string): PlaneSplit {
  switch (dtype) {
    case 'BF16':
    case 'F16':
      return bitSplit16;
    case 'F32':
      return bitSplit32;
    default: {
      const size = ELEMENT_SIZE[dtype] ?? 1;
      return size === 1 ? identity : splitByName(`bytes${size}`)!;
    }
  }
}
