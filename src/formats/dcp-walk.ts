/**
 * The torch.save archives of a `.distcp` file found without its `.metadata`: from a local header,
 * the record ends at the first end-of-central-directory record after which the bytes so far read as
 * a torch.save archive; the next record starts right there. Where no archive starts or ends as
 * expected, the walk stops and the rest of the file stays opaque.
 */
import { MithrilError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import { SliceSource } from '../io/slice.js';
import { DCP_MAX_FALSE_ENDS } from '../limits.js';
import { looksLikeTorchZip, readTorchLayout } from './torch.js';

/** Bytes scanned at a time for end record signatures. */
const WINDOW = 4 * 1024 * 1024;
const EOCD = [0x50, 0x4b, 0x05, 0x06];
const EOCD_SIZE = 22;

export interface RecordRange {
  offset: number;
  length: number;
}

/** The archives from byte 0 on, back to back, as far as they go; the first must end within `firstWithin` bytes. */
export async function findRecords(source: ByteSource, firstWithin = Infinity): Promise<RecordRange[]> {
  const records: RecordRange[] = [];
  let at = 0;
  while (at < source.size && looksLikeTorchZip(await source.read(at, Math.min(4, source.size - at)))) {
    const end = await recordEnd(source, at, at === 0 ? firstWithin : Infinity);
    if (end === undefined) break;
    records.push({ offset: at, length: end - at });
    at = end;
  }
  return records;
}

/** Where the archive starting at `start` ends, or undefined when none reads as a torch.save archive. */
async function recordEnd(source: ByteSource, start: number, within: number): Promise<number | undefined> {
  let falseEnds = 0;
  for (let from = start; from < Math.min(source.size, start + within); from += WINDOW) {
    // Each window overlaps the next by the end record's 22 bytes, to see a signature cut in two and its comment length.
    const length = Math.min(WINDOW + EOCD_SIZE, source.size - from);
    const bytes = await source.read(from, length);
    for (let i = indexOf(bytes, 0); i >= 0 && i < WINDOW; i = indexOf(bytes, i + 1)) {
      if (i + EOCD_SIZE > bytes.length) break;
      const end = from + i + EOCD_SIZE + (bytes[i + 20]! | (bytes[i + 21]! << 8));
      if (end > source.size) continue;
      if (await readsAsArchive(source, start, end)) return end;
      if (++falseEnds > DCP_MAX_FALSE_ENDS) return undefined;
    }
  }
  return undefined;
}

async function readsAsArchive(source: ByteSource, start: number, end: number): Promise<boolean> {
  try {
    await readTorchLayout(new SliceSource(source, start, end - start));
    return true;
  } catch (e) {
    if (e instanceof MithrilError) return false;
    throw e;
  }
}

function indexOf(bytes: Uint8Array, from: number): number {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).indexOf(Buffer.from(EOCD), from);
}
