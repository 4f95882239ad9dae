/**
 * A strict reader of zip archives as `torch.save` (PyTorchStreamWriter, miniz) writes them: every
 * entry stored uncompressed, usually with a data descriptor after the data (flag bit 3) and an
 * "FB" extra field padding the data to 64 bytes, and ZIP64 end records (torch writes them always).
 *
 * Only the layout matters here: where each entry's bytes are. Nothing is decompressed and no CRC is
 * checked (the bytes are kept exactly as they are, whatever they hold). Every count, size and offset
 * read from the file is checked against the file size before it is used or anything is allocated,
 * so a hostile archive gives a one-line MithrilError naming the problem.
 */
import { MithrilError } from '../errors.js';
import type { ByteSource } from '../io/source.js';

export interface ZipEntry {
  /** The name as stored (UTF-8, or Latin-1 when it is not valid UTF-8). */
  name: string;
  /** Offset of the local file header ("PK\x03\x04"). */
  localHeaderOffset: number;
  /** Offset of the entry's data: local header offset + 30 + name length + extra length. */
  dataOffset: number;
  /** Bytes of data in the archive (the compressed size; for stored entries the entry's size). */
  size: number;
  uncompressedSize: number;
  /** 0 = stored; anything else (deflate, ...) means the data is opaque to us. */
  method: number;
  /** General purpose bit flags of the central directory record (bit 0: encrypted, bit 3: data descriptor). */
  flags: number;
}

export interface ZipArchive {
  /** Entries in central directory order. */
  entries: ZipEntry[];
  /** Start of the central directory; everything from here to the end of file is directory and end records. */
  directoryOffset: number;
  directorySize: number;
  /** Whether ZIP64 end records (locator + record) are present. */
  zip64: boolean;
  /**
   * Bytes between the central directory and the end of central directory record that are no end
   * record: 0 as torch.save writes an archive; more when the offsets are those of an archive that
   * does not start at byte 0 (archives back to back, as in a DCP `.distcp` file).
   */
  strayBytes: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;

const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_MIN_SIZE = 56;
const CENTRAL_MIN_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
const ZIP64_EXTRA_ID = 0x0001;

/** Reads the archive's entries; see readZipArchive. */
export async function readZipEntries(source: ByteSource): Promise<ZipEntry[]> {
  return (await readZipArchive(source)).entries;
}

/**
 * Finds the end of central directory record (and the ZIP64 locator and record when present), reads
 * the central directory and each entry's local header. Entries must lie before the central directory
 * and must not overlap one another.
 */
export async function readZipArchive(source: ByteSource): Promise<ZipArchive> {
  const fail: Fail = (problem) => {
    throw new MithrilError(source.name, `invalid zip archive: ${problem}`, 'INVALID_CHECKPOINT');
  };
  const end = await readEndRecords(source, fail);
  const { directoryOffset, directorySize, count } = directoryRange(end, source.size, fail);
  const records = readCentralDirectory(await source.read(directoryOffset, directorySize), directoryOffset, count, end.cdOffset, fail);
  for (const r of records) r.entry.dataOffset = await readLocalHeader(source, r, directoryOffset, fail);
  const entries = records.map((r) => r.entry);
  checkNoOverlap(entries, fail);
  const strayBytes = end.recordsStart - (directoryOffset + directorySize) + end.strayAfter;
  return { entries, directoryOffset, directorySize, zip64: end.zip64, strayBytes };
}

/** Throws the one-line error for a malformed archive. */
type Fail = (problem: string) => never;

/** The end records' fields, as wide as ZIP64 makes them. */
interface EndRecord {
  diskNumber: bigint;
  cdDiskNumber: bigint;
  entriesOnDisk: bigint;
  entryCount: bigint;
  cdSize: bigint;
  cdOffset: bigint;
  /** Where the end records begin; the central directory must end by then. */
  recordsStart: number;
  /** Where the ZIP64 record ends (the classic record's offset without one). */
  recordsEnd: number;
  /** Bytes between the ZIP64 record and its locator. */
  strayAfter: number;
  zip64: boolean;
}

/** A central directory record: its entry (dataOffset still 0) and the name's bytes as stored. */
interface CentralRecord {
  entry: ZipEntry;
  rawName: Uint8Array;
}

/** The end record, replaced by the ZIP64 record when a locator points to one. */
async function readEndRecords(source: ByteSource, fail: Fail): Promise<EndRecord> {
  const classic = await readEndOfCentralDirectory(source, fail);
  const end = (await readZip64EndRecord(source, classic.recordsStart, fail)) ?? classic;
  if (end.zip64) end.strayAfter = classic.recordsStart - ZIP64_LOCATOR_SIZE - end.recordsEnd;
  if (!end.zip64) {
    // 0xFFFF entries can be a true count; saturated 32-bit fields cannot be, without ZIP64 records.
    if (end.cdSize === BigInt(U32_MAX) || end.cdOffset === BigInt(U32_MAX)) fail('end record needs ZIP64 records, which are missing');
  }
  return end;
}

/** The end of central directory record, found from the end of the file. */
async function readEndOfCentralDirectory(source: ByteSource, fail: Fail): Promise<EndRecord> {
  const size = source.size;
  if (size < EOCD_SIZE) fail(`file is ${size} bytes, too short for an end of central directory record (22 bytes)`);

  // The end record is the last 22 bytes plus a comment of up to 65535 bytes: the comment length
  // must reach exactly to the end of the file.
  const tailLength = Math.min(size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const tv = view(tail);
  let eocd = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + tv.getUint16(i + 20, true) === tailLength) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('no end of central directory record (is the file truncated?)');
  return {
    diskNumber: BigInt(tv.getUint16(eocd + 4, true)),
    cdDiskNumber: BigInt(tv.getUint16(eocd + 6, true)),
    entriesOnDisk: BigInt(tv.getUint16(eocd + 8, true)),
    entryCount: BigInt(tv.getUint16(eocd + 10, true)),
    cdSize: BigInt(tv.getUint32(eocd + 12, true)),
    cdOffset: BigInt(tv.getUint32(eocd + 16, true)),
    recordsStart: tailStart + eocd,
    recordsEnd: tailStart + eocd,
    strayAfter: 0,
    zip64: false,
  };
}

/**
 * ZIP64: a locator immediately before the end record points to the ZIP64 end record, whose
 * fields replace the 16- and 32-bit ones (as Python's zipfile and miniz read them).
 */
async function readZip64EndRecord(source: ByteSource, eocdOffset: number, fail: Fail): Promise<EndRecord | undefined> {
  if (eocdOffset < ZIP64_LOCATOR_SIZE) return undefined;
  const locatorOffset = eocdOffset - ZIP64_LOCATOR_SIZE;
  const lv = view(await source.read(locatorOffset, ZIP64_LOCATOR_SIZE));
  if (lv.getUint32(0, true) !== SIG_ZIP64_LOCATOR) return undefined;
  const recordOffset64 = lv.getBigUint64(8, true);
  const totalDisks = lv.getUint32(16, true);
  if (lv.getUint32(4, true) !== 0 || totalDisks > 1) fail('multi-disk (split) archives are not supported');
  if (recordOffset64 + BigInt(ZIP64_EOCD_MIN_SIZE) > BigInt(locatorOffset)) {
    fail(`ZIP64 end record offset ${recordOffset64} is outside the file (it must end by ${locatorOffset})`);
  }
  const recordOffset = Number(recordOffset64);
  const rv = view(await source.read(recordOffset, ZIP64_EOCD_MIN_SIZE));
  if (rv.getUint32(0, true) !== SIG_ZIP64_EOCD) fail(`no ZIP64 end of central directory record at offset ${recordOffset}`);
  const recordSize = rv.getBigUint64(4, true) + 12n;
  if (recordSize < BigInt(ZIP64_EOCD_MIN_SIZE) || BigInt(recordOffset) + recordSize > BigInt(locatorOffset)) {
    fail(`ZIP64 end record at ${recordOffset} claims ${recordSize} bytes, which does not fit before its locator at ${locatorOffset}`);
  }
  return {
    diskNumber: BigInt(rv.getUint32(16, true)),
    cdDiskNumber: BigInt(rv.getUint32(20, true)),
    entriesOnDisk: rv.getBigUint64(24, true),
    entryCount: rv.getBigUint64(32, true),
    cdSize: rv.getBigUint64(40, true),
    cdOffset: rv.getBigUint64(48, true),
    recordsStart: recordOffset,
    recordsEnd: recordOffset + Number(recordSize),
    strayAfter: 0,
    zip64: true,
  };
}

/** Where the central directory is and how many records it holds, checked against the end records. */
function directoryRange(end: EndRecord, size: number, fail: Fail): { directoryOffset: number; directorySize: number; count: number } {
  if (end.diskNumber !== 0n || end.cdDiskNumber !== 0n || end.entriesOnDisk !== end.entryCount) {
    fail('multi-disk (split) archives are not supported');
  }
  if (end.cdOffset + end.cdSize > BigInt(end.recordsStart)) {
    fail(`central directory [${end.cdOffset}, +${end.cdSize}) runs past the end records at offset ${end.recordsStart} (file is ${size} bytes)`);
  }
  if (end.entryCount * BigInt(CENTRAL_MIN_SIZE) > end.cdSize) {
    fail(`end record claims ${end.entryCount} entries, but the central directory is only ${end.cdSize} bytes (at least 46 per entry)`);
  }
  return { directoryOffset: Number(end.cdOffset), directorySize: Number(end.cdSize), count: Number(end.entryCount) };
}

/** The central directory's records in order; `cd` is the whole directory, read at `directoryOffset`. */
function readCentralDirectory(cd: Uint8Array, directoryOffset: number, count: number, cdOffset: bigint, fail: Fail): CentralRecord[] {
  const cv = view(cd);
  const records: CentralRecord[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    const where = `central directory record ${i} (offset ${directoryOffset + p})`;
    const { record, end } = readCentralRecord(cd, cv, p, where, cdOffset, fail);
    records.push(record);
    p = end;
  }
  return records;
}

/** The central directory record at `p`, and where the next one starts. */
function readCentralRecord(
  cd: Uint8Array,
  cv: DataView,
  p: number,
  where: string,
  cdOffset: bigint,
  fail: Fail,
): { record: CentralRecord; end: number } {
  if (p + CENTRAL_MIN_SIZE > cd.length) fail(`${where} runs past the end of the central directory`);
  if (cv.getUint32(p, true) !== SIG_CENTRAL) fail(`${where} has a bad signature`);
  const flags = cv.getUint16(p + 8, true);
  const method = cv.getUint16(p + 10, true);
  const place: EntryPlace = {
    compressed: BigInt(cv.getUint32(p + 20, true)),
    uncompressed: BigInt(cv.getUint32(p + 24, true)),
    startDisk: cv.getUint16(p + 34, true),
    localOffset: BigInt(cv.getUint32(p + 42, true)),
  };
  const nameLength = cv.getUint16(p + 28, true);
  const extraLength = cv.getUint16(p + 30, true);
  const commentLength = cv.getUint16(p + 32, true);
  const end = p + CENTRAL_MIN_SIZE + nameLength + extraLength + commentLength;
  if (end > cd.length) fail(`${where} runs past the end of the central directory`);
  const rawName = cd.subarray(p + CENTRAL_MIN_SIZE, p + CENTRAL_MIN_SIZE + nameLength);
  const name = decodeName(rawName);
  const extra = cd.subarray(p + CENTRAL_MIN_SIZE + nameLength, p + CENTRAL_MIN_SIZE + nameLength + extraLength);
  widenZip64(place, findExtra(extra, ZIP64_EXTRA_ID), name, fail);
  checkPlace(place, method, flags, name, cdOffset, fail);
  const entry: ZipEntry = {
    name,
    localHeaderOffset: Number(place.localOffset),
    dataOffset: 0,
    size: Number(place.compressed),
    uncompressedSize: Number(place.uncompressed),
    method,
    flags,
  };
  return { record: { entry, rawName }, end };
}

/** An entry's sizes, local header offset and disk, as wide as ZIP64 makes them. */
interface EntryPlace {
  compressed: bigint;
  uncompressed: bigint;
  localOffset: bigint;
  startDisk: number;
}

/** Replaces the saturated fields of `place` with those of its ZIP64 extra field (`z64`). */
function widenZip64(place: EntryPlace, z64: Uint8Array | undefined, name: string, fail: Fail): void {
  if (!z64) {
    if (place.compressed === BigInt(U32_MAX) || place.uncompressed === BigInt(U32_MAX) || place.localOffset === BigInt(U32_MAX)) {
      fail(`entry ${JSON.stringify(name)} needs a ZIP64 extra field, which is missing`);
    }
    return;
  }
  // The ZIP64 extra field holds, in this order, only the fields saturated in the record.
  const zv = view(z64);
  let q = 0;
  const next = (what: string): bigint => {
    if (q + 8 > z64.length) fail(`entry ${JSON.stringify(name)}: ZIP64 extra field is too short for the ${what}`);
    const v = zv.getBigUint64(q, true);
    q += 8;
    return v;
  };
  if (place.uncompressed === BigInt(U32_MAX)) place.uncompressed = next('size');
  if (place.compressed === BigInt(U32_MAX)) place.compressed = next('compressed size');
  if (place.localOffset === BigInt(U32_MAX)) place.localOffset = next('local header offset');
  if (place.startDisk === U16_MAX) {
    if (q + 4 > z64.length) fail(`entry ${JSON.stringify(name)}: ZIP64 extra field is too short for the disk number`);
    place.startDisk = zv.getUint32(q, true);
  }
}

/** An entry's place must be on this disk, before the central directory, and its sizes must agree. */
function checkPlace(place: EntryPlace, method: number, flags: number, name: string, cdOffset: bigint, fail: Fail): void {
  const { compressed, uncompressed, localOffset } = place;
  if (place.startDisk !== 0) fail('multi-disk (split) archives are not supported');
  if (localOffset + BigInt(LOCAL_SIZE) > cdOffset) {
    fail(`entry ${JSON.stringify(name)}: local header offset ${localOffset} is not before the central directory (offset ${cdOffset})`);
  }
  if (compressed > cdOffset) {
    fail(`entry ${JSON.stringify(name)}: size ${compressed} exceeds the space before the central directory (${cdOffset} bytes)`);
  }
  if (method === 0 && (flags & 1) === 0 && compressed !== uncompressed) {
    fail(`stored entry ${JSON.stringify(name)} has compressed size ${compressed} but size ${uncompressed}`);
  }
  if (uncompressed > BigInt(Number.MAX_SAFE_INTEGER)) fail(`entry ${JSON.stringify(name)}: size ${uncompressed} is absurd`);
}

/** The offset of an entry's data: its local header has the signature, the same name, and the data fits before the directory. */
async function readLocalHeader(source: ByteSource, { entry: e, rawName }: CentralRecord, directoryOffset: number, fail: Fail): Promise<number> {
  const quoted = JSON.stringify(e.name);
  const lv = view(await source.read(e.localHeaderOffset, LOCAL_SIZE));
  if (lv.getUint32(0, true) !== SIG_LOCAL) fail(`entry ${quoted}: no local file header at offset ${e.localHeaderOffset}`);
  const localFlags = lv.getUint16(6, true);
  const localMethod = lv.getUint16(8, true);
  const localCompressed = lv.getUint32(18, true);
  const nameLength = lv.getUint16(26, true);
  const extraLength = lv.getUint16(28, true);
  if (localMethod !== e.method) fail(`entry ${quoted}: local header says method ${localMethod}, central directory ${e.method}`);
  const dataOffset = e.localHeaderOffset + LOCAL_SIZE + nameLength + extraLength;
  if (dataOffset + e.size > directoryOffset) {
    fail(`entry ${quoted}: data [${dataOffset}, +${e.size}) runs into the central directory at offset ${directoryOffset}`);
  }
  if (nameLength !== rawName.length || !sameBytes(await source.read(e.localHeaderOffset + LOCAL_SIZE, nameLength), rawName)) {
    fail(`entry ${quoted}: local header name differs from the central directory's`);
  }
  // Without a data descriptor (bit 3) the local header carries the sizes too; they must agree.
  if ((localFlags & 8) === 0 && localCompressed !== U32_MAX && localCompressed !== e.size % 2 ** 32) {
    fail(`entry ${quoted}: local header says ${localCompressed} bytes, central directory ${e.size}`);
  }
  return dataOffset;
}

/** Entries, taken in file order, must not overlap. */
function checkNoOverlap(entries: ZipEntry[], fail: Fail): void {
  const byOffset = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1];
    const cur = byOffset[i];
    if (cur.localHeaderOffset < prev.dataOffset + prev.size) {
      fail(`entries ${JSON.stringify(prev.name)} and ${JSON.stringify(cur.name)} overlap`);
    }
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

function decodeName(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

/** The body of the extra field with the given id, if present (malformed extra data is ignored). */
function findExtra(extra: Uint8Array, id: number): Uint8Array | undefined {
  const v = view(extra);
  let p = 0;
  while (p + 4 <= extra.length) {
    const tag = v.getUint16(p, true);
    const len = v.getUint16(p + 2, true);
    if (p + 4 + len > extra.length) return undefined;
    if (tag === id) return extra.subarray(p + 4, p + 4 + len);
    p += 4 + len;
  }
  return undefined;
}
