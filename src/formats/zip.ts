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
export function readZipEntries(source: ByteSource): ZipEntry[] {
  return readZipArchive(source).entries;
}

/**
 * Finds the end of central directory record (and the ZIP64 locator and record when present), reads
 * the central directory and each entry's local header. Entries must lie before the central directory
 * and must not overlap one another.
 */
export function readZipArchive(source: ByteSource): ZipArchive {
  const size = source.size;
  function fail(problem: string): never {
    throw new MithrilError(source.name, `invalid zip archive: ${problem}`, 'INVALID_CHECKPOINT');
  }
  if (size < EOCD_SIZE) fail(`file is ${size} bytes, too short for an end of central directory record (22 bytes)`);

  // The end record is the last 22 bytes plus a comment of up to 65535 bytes: the comment length
  // must reach exactly to the end of the file.
  const tailLength = Math.min(size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = size - tailLength;
  const tail = source.read(tailStart, tailLength);
  const tv = view(tail);
  let eocd = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + tv.getUint16(i + 20, true) === tailLength) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('no end of central directory record (is the file truncated?)');
  const eocdOffset = tailStart + eocd;
  const disk = tv.getUint16(eocd + 4, true);
  const cdDisk = tv.getUint16(eocd + 6, true);
  let entriesOnDisk: bigint = BigInt(tv.getUint16(eocd + 8, true));
  let entryCount: bigint = BigInt(tv.getUint16(eocd + 10, true));
  let cdSize: bigint = BigInt(tv.getUint32(eocd + 12, true));
  let cdOffset: bigint = BigInt(tv.getUint32(eocd + 16, true));
  let diskNumber: bigint = BigInt(disk);
  let cdDiskNumber: bigint = BigInt(cdDisk);

  // ZIP64: a locator immediately before the end record points to the ZIP64 end record, whose
  // fields replace the 16- and 32-bit ones (as Python's zipfile and miniz read them).
  let recordsStart = eocdOffset; // where the end records begin; the central directory must end by then
  let zip64 = false;
  if (eocdOffset >= ZIP64_LOCATOR_SIZE) {
    const loc = source.read(eocdOffset - ZIP64_LOCATOR_SIZE, ZIP64_LOCATOR_SIZE);
    const lv = view(loc);
    if (lv.getUint32(0, true) === SIG_ZIP64_LOCATOR) {
      zip64 = true;
      const locatorOffset = eocdOffset - ZIP64_LOCATOR_SIZE;
      const recordOffset64 = lv.getBigUint64(8, true);
      const totalDisks = lv.getUint32(16, true);
      if (lv.getUint32(4, true) !== 0 || totalDisks > 1) fail('multi-disk (split) archives are not supported');
      if (recordOffset64 + BigInt(ZIP64_EOCD_MIN_SIZE) > BigInt(locatorOffset)) {
        fail(`ZIP64 end record offset ${recordOffset64} is outside the file (it must end by ${locatorOffset})`);
      }
      const recordOffset = Number(recordOffset64);
      const rec = source.read(recordOffset, ZIP64_EOCD_MIN_SIZE);
      const rv = view(rec);
      if (rv.getUint32(0, true) !== SIG_ZIP64_EOCD) fail(`no ZIP64 end of central directory record at offset ${recordOffset}`);
      const recordSize = rv.getBigUint64(4, true) + 12n;
      if (recordSize < BigInt(ZIP64_EOCD_MIN_SIZE) || BigInt(recordOffset) + recordSize > BigInt(locatorOffset)) {
        fail(`ZIP64 end record at ${recordOffset} claims ${recordSize} bytes, which does not fit before its locator at ${locatorOffset}`);
      }
      diskNumber = BigInt(rv.getUint32(16, true));
      cdDiskNumber = BigInt(rv.getUint32(20, true));
      entriesOnDisk = rv.getBigUint64(24, true);
      entryCount = rv.getBigUint64(32, true);
      cdSize = rv.getBigUint64(40, true);
      cdOffset = rv.getBigUint64(48, true);
      recordsStart = recordOffset;
    }
  }
  if (!zip64) {
    // 0xFFFF entries can be a true count; saturated 32-bit fields cannot be, without ZIP64 records.
    if (cdSize === BigInt(U32_MAX) || cdOffset === BigInt(U32_MAX)) fail('end record needs ZIP64 records, which are missing');
  }
  if (diskNumber !== 0n || cdDiskNumber !== 0n || entriesOnDisk !== entryCount) {
    fail('multi-disk (split) archives are not supported');
  }
  if (cdOffset + cdSize > BigInt(recordsStart)) {
    fail(`central directory [${cdOffset}, +${cdSize}) runs past the end records at offset ${recordsStart} (file is ${size} bytes)`);
  }
  if (entryCount * BigInt(CENTRAL_MIN_SIZE) > cdSize) {
    fail(`end record claims ${entryCount} entries, but the central directory is only ${cdSize} bytes (at least 46 per entry)`);
  }
  const directoryOffset = Number(cdOffset);
  const directorySize = Number(cdSize);
  const count = Number(entryCount);

  const cd = source.read(directoryOffset, directorySize);
  const cv = view(cd);
  const entries: ZipEntry[] = [];
  const rawNames: Uint8Array[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    const where = `central directory record ${i} (offset ${directoryOffset + p})`;
    if (p + CENTRAL_MIN_SIZE > directorySize) fail(`${where} runs past the end of the central directory`);
    if (cv.getUint32(p, true) !== SIG_CENTRAL) fail(`${where} has a bad signature`);
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    let compressed = BigInt(cv.getUint32(p + 20, true));
    let uncompressed = BigInt(cv.getUint32(p + 24, true));
    const nameLength = cv.getUint16(p + 28, true);
    const extraLength = cv.getUint16(p + 30, true);
    const commentLength = cv.getUint16(p + 32, true);
    let startDisk = cv.getUint16(p + 34, true);
    let localOffset = BigInt(cv.getUint32(p + 42, true));
    const recordEnd = p + CENTRAL_MIN_SIZE + nameLength + extraLength + commentLength;
    if (recordEnd > directorySize) fail(`${where} runs past the end of the central directory`);
    const rawName = cd.subarray(p + CENTRAL_MIN_SIZE, p + CENTRAL_MIN_SIZE + nameLength);
    const name = decodeName(rawName);
    const extra = cd.subarray(p + CENTRAL_MIN_SIZE + nameLength, p + CENTRAL_MIN_SIZE + nameLength + extraLength);
    const z64 = findExtra(extra, ZIP64_EXTRA_ID);
    if (z64) {
      // The ZIP64 extra field holds, in this order, only the fields saturated in the record.
      const zv = view(z64);
      let q = 0;
      const next = (what: string): bigint => {
        if (q + 8 > z64.length) fail(`entry ${JSON.stringify(name)}: ZIP64 extra field is too short for the ${what}`);
        const v = zv.getBigUint64(q, true);
        q += 8;
        return v;
      };
      if (uncompressed === BigInt(U32_MAX)) uncompressed = next('size');
      if (compressed === BigInt(U32_MAX)) compressed = next('compressed size');
      if (localOffset === BigInt(U32_MAX)) localOffset = next('local header offset');
      if (startDisk === U16_MAX) {
        if (q + 4 > z64.length) fail(`entry ${JSON.stringify(name)}: ZIP64 extra field is too short for the disk number`);
        startDisk = zv.getUint32(q, true);
      }
    } else if (compressed === BigInt(U32_MAX) || uncompressed === BigInt(U32_MAX) || localOffset === BigInt(U32_MAX)) {
      fail(`entry ${JSON.stringify(name)} needs a ZIP64 extra field, which is missing`);
    }
    if (startDisk !== 0) fail('multi-disk (split) archives are not supported');
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
    entries.push({
      name,
      localHeaderOffset: Number(localOffset),
      dataOffset: 0,
      size: Number(compressed),
      uncompressedSize: Number(uncompressed),
      method,
      flags,
    });
    rawNames.push(rawName);
    p = recordEnd;
  }

  // Local headers: signature, the same name, and the data inside the space before the directory.
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const quoted = JSON.stringify(e.name);
    const lh = source.read(e.localHeaderOffset, LOCAL_SIZE);
    const lv = view(lh);
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
    const rawName = rawNames[i];
    if (nameLength !== rawName.length || !sameBytes(source.read(e.localHeaderOffset + LOCAL_SIZE, nameLength), rawName)) {
      fail(`entry ${quoted}: local header name differs from the central directory's`);
    }
    // Without a data descriptor (bit 3) the local header carries the sizes too; they must agree.
    if ((localFlags & 8) === 0 && localCompressed !== U32_MAX && localCompressed !== e.size % 2 ** 32) {
      fail(`entry ${quoted}: local header says ${localCompressed} bytes, central directory ${e.size}`);
    }
    e.dataOffset = dataOffset;
  }

  const byOffset = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1];
    const cur = byOffset[i];
    if (cur.localHeaderOffset < prev.dataOffset + prev.size) {
      fail(`entries ${JSON.stringify(prev.name)} and ${JSON.stringify(cur.name)} overlap`);
    }
  }
  return { entries, directoryOffset, directorySize, zip64 };
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
