import { xxh64 } from '@node-rs/xxhash';
import { encodeWith } from '../codec/coders.js';
import type { EncodedChunk } from '../codec/pipeline.js';
import type { ByteSink } from '../io/sink.js';
import { encodeFooter, encodeHeader, HEADER_SIZE, type ChunkRecord, type ContainerIndex, type DeltaRecord } from './format.js';

/** A coded chunk, single-checkpoint or delta. */
export type CodedChunk = EncodedChunk & { delta?: DeltaRecord };

/** Writes a container in one forward pass: header, chunks as they come, then index and footer. */
export class ContainerWriter {
  private position = HEADER_SIZE;
  private readonly chunks: ChunkRecord[] = [];

  constructor(private readonly sink: ByteSink) {
    sink.write(encodeHeader());
  }

  get bytesWritten(): number {
    return this.position;
  }

  addChunk(rawOffset: number, rawLength: number, rawXxh64: string, chunk: CodedChunk): void {
    const { split, streams, delta } = chunk;
    this.chunks.push({ offset: this.position, rawOffset, rawLength, xxh64: rawXxh64, split, streams, ...(delta ? { delta } : {}) });
    for (const part of chunk.payload) {
      this.sink.write(part);
      this.position += part.length;
    }
  }

  finish(index: Omit<ContainerIndex, 'chunks'>): void {
    const json = new TextEncoder().encode(JSON.stringify({ ...index, chunks: this.chunks }));
    const coded = encodeWith('zstd1', json);
    const footer = encodeFooter({ indexOffset: this.position, indexCodedLength: coded.length, indexLength: json.length, indexXxh64: xxh64(json) });
    this.sink.write(coded);
    this.sink.write(footer);
    this.position += coded.length + footer.length;
  }
}
