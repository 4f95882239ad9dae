import { elementSize } from '../dtypes.js';
import type { Layout, TensorSegment } from '../formats/layout.js';

/** A contiguous byte range of the original file, coded independently of every other chunk. */
export interface ChunkPlan {
  offset: number;
  length: number;
  /** The dtype of the tensor data in the chunk, or null for opaque bytes. */
  dtype: string | null;
  /** When the chunk is a piece of one tensor: that tensor, for pairing with a base checkpoint. */
  tensor?: TensorSegment;
}

export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** Tensors shorter than this are grouped with their same-dtype neighbours into one chunk. */
export const SMALL_TENSOR = 64 * 1024;
/**
 * With base checkpoints, each tensor needs its own chunks to be paired with its earlier version
 * (in the cnn, most weights are under 64 KiB); only tiny ones are still grouped.
 */
export const SMALL_TENSOR_WITH_BASES = 1024;

/**
 * Cuts a layout into chunks that tile the file in order. Large tensors are cut into near-equal
 * pieces (whole rows where a row fits a chunk, else whole elements) so each chunk keeps one
 * tensor's statistics (and the strong delta coder's low-rank model sees whole rows); runs of small
 * tensors of one dtype share a chunk; opaque segments are cut on their own.
 */
export function planChunks(layout: Layout, chunkSize = DEFAULT_CHUNK_SIZE, smallTensor = SMALL_TENSOR): ChunkPlan[] {
  const chunks: ChunkPlan[] = [];
  let group: ChunkPlan | undefined;
  const flushGroup = (): void => {
    if (group) chunks.push(group);
    group = undefined;
  };

  for (const segment of layout.segments) {
    if (segment.length === 0) continue;
    const dtype = segment.kind === 'tensor' ? segment.dtype : null;
    if (dtype !== null && segment.length < smallTensor) {
      const joins = group && group.dtype === dtype && group.offset + group.length === segment.offset && group.length + segment.length <= chunkSize;
      if (!joins) flushGroup();
      if (group) group.length += segment.length;
      else group = { offset: segment.offset, length: segment.length, dtype };
      continue;
    }
    flushGroup();
    const tensor = segment.kind === 'tensor' ? segment : undefined;
    const width = pieceUnit(tensor, chunkSize);
    // Near-equal pieces of whole units, none over chunkSize (a unit is at most chunkSize).
    const pieces = Math.ceil(segment.length / width / Math.max(1, Math.floor(chunkSize / width)));
    const pieceLength = Math.ceil(segment.length / width / pieces) * width;
    for (let at = 0; at < segment.length; at += pieceLength) {
      chunks.push({ offset: segment.offset + at, length: Math.min(pieceLength, segment.length - at), dtype, tensor });
    }
  }
  flushGroup();
  return chunks;
}

/** The bytes of one row of a tensor with two or more dimensions when that fits a chunk, else of one element. */
function pieceUnit(tensor: TensorSegment | undefined, chunkSize: number): number {
  if (!tensor) return 1;
  const size = elementSize(tensor.dtype) ?? 1;
  const row = rowBytes(tensor, size);
  return row !== undefined && row > 0 && row <= chunkSize && tensor.length % row === 0 ? row : size;
}

/** The bytes of one row (all dimensions but the first) of a tensor with two or more dimensions, elements of `size` bytes. */
export function rowBytes(tensor: TensorSegment, size: number): number | undefined {
  return tensor.shape.length >= 2 ? tensor.shape.slice(1).reduce((a, d) => a * d, 1) * size : undefined;
}
