import { xxh64 } from '../checksum.js';
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

  private constructor(private readonly sink: ByteSink) {}

  static async open(sink: ByteSink): Promise<ContainerWriter> {
    await sink.write(encodeHeader());
    return new ContainerWriter(sink);
  }

  get bytesWritten(): number {
    return this.position;
  }

  async addChunk(rawOffset: number, rawLength: number, rawXxh64: string, chunk: CodedChunk): Promise<void> {
    const { split, streams, delta } = chunk;
    this.chunks.push({ offset: this.position, rawOffset, rawLength, xxh64: rawXxh64, split, streams, ...(delta ? { delta } : {}) });
    for (const part of chunk.payload) {
      await this.sink.write(part);
      this.position += part.length;
    }
  }

  async finish(index: Omit<ContainerIndex, 'chunks'>): Promise<void> {
    const json = new TextEncoder().encode(JSON.stringify({ ...index, chunks: this.chunks }));
    const coded = encodeWith('zstd1', json);
    const footer = encodeFooter({ indexOffset: this.position, indexCodedLength: coded.length, indexLength: json.length, indexXxh64: xxh64(json) });
    await this.sink.write(coded);
    await this.sink.write(footer);
    this.position += coded.length + footer.length;
  }
}
