/**
 * torch.distributed.checkpoint (DCP) `.distcp` files: one rank's items back to back, each tensor
 * chunk and each other object a torch.save archive of its own (as FileSystemWriter writes them).
 *
 * The layout is the sequence of the records' torch.save layouts, shifted to where each starts:
 * tensor data typed as torch.save reads it, named after the DCP item ("fqn", or "fqn@offsets" for
 * a chunk of a sharded tensor) when the folder's `.metadata` places the records, else after the
 * record's position ("record3"). Bytes no record covers, and records that are not torch.save
 * archives (transformed, or another serialization), are opaque.
 */
import { basename } from 'node:path';
import { MithrilError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import { SliceSource } from '../io/slice.js';
import { dcpTensorName, looksLikeDcpMetadata, readDcpMetadata, type DcpItem } from './dcp-metadata.js';
import { findRecords, type RecordRange } from './dcp-walk.js';
import type { Layout, Segment } from './layout.js';
import { PickleError } from './pickle/values.js';
import { looksLikeTorchZip, readTorchLayout } from './torch.js';
import { DCP_CONTENT_SCAN, MAX_DCP_METADATA_BYTES } from '../limits.js';

export const METADATA_FILE = '.metadata';

/** Whether the file is named as DCP names its data files: `__<rank>_<n>.distcp`, or any `.distcp`. */
export function isDistcpName(name: string): boolean {
  return name.endsWith('.distcp');
}

/**
 * This file's items as the `.metadata` beside it places them; undefined when there is no DCP
 * `.metadata`, or one too large to read, or one that does not name this file. A `.metadata` that
 * is DCP's but cannot be read is an error: the names would be silently lost.
 */
export async function siblingItems(source: ByteSource): Promise<DcpItem[] | undefined> {
  const metadata = source.sibling?.(METADATA_FILE);
  if (!metadata) return undefined;
  try {
    if (metadata.size > MAX_DCP_METADATA_BYTES || !looksLikeDcpMetadata(await metadata.read(0, Math.min(64, metadata.size)))) return undefined;
    const files = readDcpMetadata(await metadata.read(0, metadata.size));
    return files.get(basename(source.name));
  } catch (e) {
    if (!(e instanceof PickleError || e instanceof RangeError)) throw e;
    throw new MithrilError(metadata.name, `cannot read the DCP metadata: ${e.message}`, 'INVALID_CHECKPOINT');
  } finally {
    metadata.close();
  }
}

/** The layout of a `.distcp` file, with its items from `.metadata` when given (else found by walking the records). */
export async function readDcpLayout(source: ByteSource, items?: readonly DcpItem[]): Promise<Layout> {
  return recordsLayout(source, items ? placed(source, items) : numbered(await findRecords(source)));
}

/** By content alone: the layout of a file made of two or more torch.save archives back to back, else undefined. */
export async function readDcpByContent(source: ByteSource): Promise<Layout | undefined> {
  const records = await findRecords(source, DCP_CONTENT_SCAN);
  return records.length >= 2 ? recordsLayout(source, numbered(records)) : undefined;
}

/** Records found without `.metadata` are named by their place: the same place pairs across steps. */
function numbered(records: readonly RecordRange[]): DcpRecord[] {
  return records.map((r, i) => ({ ...r, name: `record${i}` }));
}

async function recordsLayout(source: ByteSource, records: readonly DcpRecord[]): Promise<Layout> {
  const segments: Segment[] = [];
  let cursor = 0;
  for (const record of records) {
    if (record.offset > cursor) segments.push({ kind: 'opaque', role: 'gap', offset: cursor, length: record.offset - cursor });
    segments.push(...(await recordSegments(source, record)));
    cursor = record.offset + record.length;
  }
  if (cursor < source.size) segments.push({ kind: 'opaque', role: records.length ? 'trailing' : 'unrecognised', offset: cursor, length: source.size - cursor });
  return { format: 'dcp', size: source.size, segments };
}

/** A record to lay out: its bytes, the name its tensors take, and whether they are a torch.save archive. */
interface DcpRecord {
  offset: number;
  length: number;
  name: string;
  item?: DcpItem;
  transformed?: boolean;
}

/** The items sorted by offset; each must lie inside the file and after the one before. */
function placed(source: ByteSource, items: readonly DcpItem[]): DcpRecord[] {
  const sorted = [...items].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const item of sorted) {
    const where = `${item.fqn} at bytes ${item.offset}..${item.offset + item.length}`;
    if (item.offset + item.length > source.size) throw new MithrilError(source.name, `is truncated or does not match its .metadata: ${where}, but the file is ${source.size} bytes`, 'TRUNCATED');
    if (item.offset < end) throw new MithrilError(source.name, `does not match its .metadata: ${where} overlaps the item before`, 'INVALID_CHECKPOINT');
    end = item.offset + item.length;
  }
  return sorted.map((item) => ({ offset: item.offset, length: item.length, name: item.fqn, item, transformed: item.transformed }));
}

/** One record's torch.save layout, shifted to its place, its tensors named after the item. */
async function recordSegments(source: ByteSource, record: DcpRecord): Promise<Segment[]> {
  if (record.length === 0) return [];
  const slice = new SliceSource(source, record.offset, record.length);
  if (record.transformed || !looksLikeTorchZip(await slice.read(0, Math.min(4, slice.size)))) return [{ kind: 'opaque', role: 'dcp record', offset: record.offset, length: record.length }];
  const { segments } = await readTorchLayout(slice);
  const tensors = segments.filter((s) => s.kind === 'tensor').length;
  let n = 0;
  return segments.map((s): Segment => {
    if (s.kind === 'opaque') return { ...s, offset: s.offset + record.offset };
    const own = record.item?.tensor ? dcpTensorName(record.item, s.shape) : record.name;
    const name = tensors > 1 ? `${own}/${n++}` : own;
    return { ...s, name, offset: s.offset + record.offset };
  });
}
