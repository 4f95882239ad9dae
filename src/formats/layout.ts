/**
 * A layout describes a file as an ordered list of segments that cover every byte exactly once.
 * Formats only produce layouts; the codec never needs to know which format a file was.
 */
export interface OpaqueSegment {
  kind: 'opaque';
  /** What the bytes are, for `info`: "header", "padding", "trailing", ... */
  role: string;
  offset: number;
  length: number;
}

export interface TensorSegment {
  kind: 'tensor';
  name: string;
  /** The dtype as the format spells it (e.g. "BF16", "F32"); unknown dtypes are kept as they are. */
  dtype: string;
  shape: number[];
  offset: number;
  length: number;
}

export type Segment = OpaqueSegment | TensorSegment;

export interface Layout {
  format: string;
  size: number;
  segments: Segment[];
}
