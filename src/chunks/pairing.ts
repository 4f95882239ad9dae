import type { PairedBytes } from '../delta/delta-chunk.js';
import { elementSize, isDeltaDtype } from '../dtypes.js';
import type { BaseCheckpoint } from './bases.js';
import { rowBytes, type ChunkPlan } from './plan.js';

/**
 * A chunk's counterpart in the base checkpoints, for coding it as a delta: the same bytes of the
 * same tensor (name, dtype, shape) in the base and, if that has them, in the older base.
 */
export async function pairChunk(chunk: ChunkPlan, bases: readonly BaseCheckpoint[], buffers: { take(size: number): Uint8Array }): Promise<{ base?: PairedBytes; prev?: PairedBytes }> {
  if (!chunk.tensor || !isDeltaDtype(chunk.dtype)) return {};
  const base = await pairedBytes(chunk, bases, 0, buffers);
  return base ? { base, prev: await pairedBytes(chunk, bases, 1, buffers) } : {};
}

async function pairedBytes(chunk: ChunkPlan, bases: readonly BaseCheckpoint[], which: number, buffers: { take(size: number): Uint8Array }): Promise<PairedBytes | undefined> {
  const tensor = chunk.tensor!;
  const paired = bases[which]?.tensors.get(tensor.name);
  if (!paired || paired.dtype !== tensor.dtype || paired.length !== tensor.length || paired.shape.join() !== tensor.shape.join()) return undefined;
  const ref = { base: which, offset: paired.offset + (chunk.offset - tensor.offset) };
  return { ref, bytes: await bases[which]!.read(ref.offset, chunk.length, buffers.take(chunk.length)) };
}

/** Elements per row when the chunk is whole rows of a tensor with two or more dimensions. */
export function rowLengthOf(chunk: ChunkPlan): number | undefined {
  const tensor = chunk.tensor!;
  const size = elementSize(tensor.dtype);
  const row = size === undefined ? undefined : rowBytes(tensor, size);
  return row !== undefined && row > 0 && (chunk.offset - tensor.offset) % row === 0 && chunk.length % row === 0 ? row / size! : undefined;
}
