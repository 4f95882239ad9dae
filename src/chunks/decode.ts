import type { ContainerReader } from '../container/reader.js';
import { runDecode } from './code.js';

/** Decodes one chunk into `dst` (exactly rawLength bytes) and checks its checksum; `refs`: its base bytes, for a delta chunk. */
export async function readChunk(reader: ContainerReader, chunkNumber: number, dst: Uint8Array, refs: Uint8Array[]): Promise<void> {
  const outcome = runDecode({ chunk: reader.index.chunks[chunkNumber]!, coded: await reader.readCoded(chunkNumber), raw: dst, refs });
  if (outcome !== 'ok') throw reader.failure(chunkNumber, outcome);
}
