import { refBytes, type BaseCheckpoint } from './chunks/bases.js';
import { readChunk } from './chunks/decode.js';
import type { ContainerReader } from './container/reader.js';
import { MithrilError } from './errors.js';
import type { TensorSegment } from './formats/layout.js';

/**
 * The original bytes of one tensor, decoding only the chunks that hold it (random access through
 * the index). Every chunk read is checked against its checksum.
 */
export async function extractTensor(reader: ContainerReader, bases: readonly BaseCheckpoint[], name: string): Promise<{ tensor: TensorSegment; bytes: Uint8Array }> {
  const { segments, chunks } = reader.index;
  const tensor = segments.find((s): s is TensorSegment => s.kind === 'tensor' && s.name === name);
  if (!tensor) throw new MithrilError(reader.name, `has no tensor named ${JSON.stringify(name)} (mithril info --tensors lists them)`, 'NO_TENSOR');
  const bytes = new Uint8Array(tensor.length);
  const end = tensor.offset + tensor.length;
  const needed = [...chunks.keys()].filter((n) => chunks[n]!.rawOffset + chunks[n]!.rawLength > tensor.offset && chunks[n]!.rawOffset < end);
  reader.willReadChunks(needed);
  for (const number of needed) {
    const chunk = chunks[number]!;
    const chunkEnd = chunk.rawOffset + chunk.rawLength;
    const raw = new Uint8Array(chunk.rawLength);
    await readChunk(reader, number, raw, await refBytes(chunk, bases));
    const from = Math.max(tensor.offset, chunk.rawOffset);
    bytes.set(raw.subarray(from - chunk.rawOffset, Math.min(end, chunkEnd) - chunk.rawOffset), from - tensor.offset);
  }
  return { tensor, bytes };
}
