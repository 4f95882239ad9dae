import type { TensorSegment } from './layout.js';

/** NumPy's names for our dtypes (little-endian); bf16 and the 8-bit floats have none. */
const NPY_DTYPES: Record<string, string> = {
  BOOL: '|b1', U8: '|u1', I8: '|i1', I16: '<i2', U16: '<u2', F16: '<f2',
  I32: '<i4', U32: '<u4', F32: '<f4', I64: '<i8', U64: '<u8', F64: '<f8',
};

export function npyDtype(dtype: string): string | undefined {
  return NPY_DTYPES[dtype];
}

/** The header of a version 1.0 .npy file for the tensor (data follows it as stored). */
export function npyHeader(tensor: TensorSegment): Uint8Array {
  const shape = tensor.shape.length === 1 ? `(${tensor.shape[0]},)` : `(${tensor.shape.join(', ')})`;
  let dict = `{'descr': '${npyDtype(tensor.dtype)}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Magic (6) + version (2) + length (2) + dict + newline, padded with spaces to a multiple of 64.
  dict += ' '.repeat(63 - ((10 + dict.length) % 64)) + '\n';
  const header = new Uint8Array(10 + dict.length);
  header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, dict.length & 0xff, dict.length >> 8]);
  header.set(new TextEncoder().encode(dict), 10);
  return header;
}
