/**
 * Where the structure of each format is: the integer fields, regions and record boundaries the
 * mutators aim at. Computed once per seed input, from the intact file.
 */
import type { Field, Region, Shape } from './mutate.js';

const u32le = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const u16le = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);

/** The fields of a zstd frame header at `at` (magic, descriptor, window, content size) and its first block header. */
export function zstdFrameFields(bytes: Uint8Array, at: number, what: string): { fields: Field[]; headerEnd: number } {
  const fields: Field[] = [];
  if (at + 6 > bytes.length || u32le(bytes, at) !== 0xfd2fb528) return { fields, headerEnd: at };
  fields.push({ at, width: 4, what: `${what} zstd magic` });
  const fhd = bytes[at + 4]!;
  fields.push({ at: at + 4, width: 1, what: `${what} zstd frame descriptor` });
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictFlag = fhd & 3;
  let p = at + 5;
  if (!single) {
    fields.push({ at: p, width: 1, what: `${what} zstd window descriptor` });
    p += 1;
  }
  p += [0, 1, 2, 4][dictFlag]!;
  const fcsSize = [single ? 1 : 0, 2, 4, 8][fcsFlag]! as 0 | 1 | 2 | 4 | 8;
  if (fcsSize !== 0) fields.push({ at: p, width: fcsSize, what: `${what} zstd content size` });
  p += fcsSize;
  if (p + 3 <= bytes.length) {
    fields.push({ at: p, width: 2, what: `${what} zstd block header (low)` });
    fields.push({ at: p + 2, width: 1, what: `${what} zstd block header (high)` });
  }
  return { fields, headerEnd: p };
}

interface IndexLike {
  chunks: { offset: number; rawOffset: number; rawLength: number; streams: { coder: string; codedLength: number }[]; delta?: unknown }[];
}

/** A .mth container: header, footer fields, the index's zstd frame and every stream's frame header. */
export function mthShape(container: Uint8Array, index: IndexLike, indexOffset: number): Shape {
  const size = container.length;
  const fields: Field[] = [
    { at: 0, width: 8, what: 'magic' },
    { at: 8, width: 4, what: 'container version' },
    { at: 12, width: 4, what: 'reserved' },
    { at: size - 40, width: 8, what: 'footer indexOffset' },
    { at: size - 32, width: 8, what: 'footer index coded length' },
    { at: size - 24, width: 8, what: 'footer index JSON length' },
    { at: size - 16, width: 8, what: 'footer index xxh64' },
    { at: size - 8, width: 8, what: 'footer magic' },
    // The same footer fields, read as their low halves (values that stay plausible).
    { at: size - 40, width: 4, what: 'footer indexOffset (low)' },
    { at: size - 32, width: 4, what: 'footer index coded length (low)' },
    { at: size - 24, width: 4, what: 'footer index JSON length (low)' },
  ];
  fields.push(...zstdFrameFields(container, indexOffset, 'index').fields);
  const regions: Region[] = [
    { start: 0, end: 16, what: 'header' },
    { start: size - 40, end: size, what: 'footer' },
    { start: indexOffset, end: size - 40, what: 'index' },
    { start: Math.max(0, indexOffset - 32), end: Math.min(size, indexOffset + 32), what: 'around the index start' },
  ];
  const cuts = [16, indexOffset, size - 40, size - 8];
  for (const [n, chunk] of index.chunks.entries()) {
    let at = chunk.offset;
    cuts.push(at);
    for (const [k, stream] of chunk.streams.entries()) {
      const what = `chunk ${n} stream ${k} (${stream.coder}${chunk.delta ? ', delta' : ''})`;
      if (stream.coder !== 'raw' && stream.coder !== 'residual') fields.push(...zstdFrameFields(container, at, what).fields);
      if (stream.coder === 'residual' && at + 8 <= size) fields.push({ at, width: 4, what: `${what} head` }, { at: at + 4, width: 4, what: `${what} head+4` });
      regions.push({ start: at, end: Math.min(at + 16, at + stream.codedLength), what: `${what} start` });
      at += stream.codedLength;
      cuts.push(at);
    }
    regions.push({ start: Math.max(chunk.offset, at - 8), end: at, what: `chunk ${n} end` });
  }
  return { fields, regions, cuts };
}

/** A safetensors file: the header length, the JSON, the start of data and the end. */
export function safetensorsShape(file: Uint8Array): Shape {
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  const dataStart = 8 + n;
  const fields: Field[] = [
    { at: 0, width: 8, what: 'header length' },
    { at: 0, width: 4, what: 'header length (low)' },
    { at: 4, width: 4, what: 'header length (high)' },
    { at: 0, width: 2, what: 'header length (low 16)' },
  ];
  const regions: Region[] = [
    { start: 0, end: 8, what: 'header length' },
    { start: 8, end: dataStart, what: 'JSON header' },
    { start: dataStart, end: Math.min(file.length, dataStart + 64), what: 'start of data' },
    { start: Math.max(dataStart, file.length - 64), end: file.length, what: 'end of data' },
  ];
  const cuts = [8, 9, dataStart - 1, dataStart];
  try {
    const header = JSON.parse(new TextDecoder().decode(file.subarray(8, dataStart))) as Record<string, { data_offsets?: number[] }>;
    for (const [name, v] of Object.entries(header)) {
      if (name === '__metadata__' || !v.data_offsets) continue;
      cuts.push(dataStart + v.data_offsets[0]!, dataStart + v.data_offsets[1]!);
    }
  } catch {
    // not a valid header: no tensor boundaries
  }
  return { fields, regions, cuts };
}

/** A zip archive: every record found by its signature, with its length, offset and count fields. */
export function zipShape(file: Uint8Array): Shape {
  const fields: Field[] = [];
  const regions: Region[] = [];
  const cuts: number[] = [];
  for (let p = 0; p + 4 <= file.length; p++) {
    if (file[p] !== 0x50 || file[p + 1] !== 0x4b) continue;
    const sig = u32le(file, p);
    if (sig === 0x04034b50 && p + 30 <= file.length) {
      const n = u16le(file, p + 26);
      const x = u16le(file, p + 28);
      const w = `local header at ${p}`;
      fields.push(
        { at: p, width: 4, what: `${w} signature` },
        { at: p + 6, width: 2, what: `${w} flags` },
        { at: p + 8, width: 2, what: `${w} method` },
        { at: p + 18, width: 4, what: `${w} compressed size` },
        { at: p + 22, width: 4, what: `${w} size` },
        { at: p + 26, width: 2, what: `${w} name length` },
        { at: p + 28, width: 2, what: `${w} extra length` },
      );
      if (x >= 4 && p + 30 + n + 4 <= file.length) fields.push({ at: p + 30 + n + 2, width: 2, what: `${w} extra field length` });
      regions.push({ start: p, end: Math.min(file.length, p + 30 + n + x), what: w });
      cuts.push(p, p + 30, p + 30 + n, p + 30 + n + x);
    } else if (sig === 0x02014b50 && p + 46 <= file.length) {
      const n = u16le(file, p + 28);
      const x = u16le(file, p + 30);
      const c = u16le(file, p + 32);
      const w = `central record at ${p}`;
      fields.push(
        { at: p, width: 4, what: `${w} signature` },
        { at: p + 8, width: 2, what: `${w} flags` },
        { at: p + 10, width: 2, what: `${w} method` },
        { at: p + 20, width: 4, what: `${w} compressed size` },
        { at: p + 24, width: 4, what: `${w} size` },
        { at: p + 28, width: 2, what: `${w} name length` },
        { at: p + 30, width: 2, what: `${w} extra length` },
        { at: p + 32, width: 2, what: `${w} comment length` },
        { at: p + 34, width: 2, what: `${w} disk` },
        { at: p + 42, width: 4, what: `${w} local header offset` },
      );
      // A ZIP64 extra field's 64-bit values, if any.
      for (let q = p + 46 + n; q + 4 <= p + 46 + n + x && q + 4 <= file.length; ) {
        const len = u16le(file, q + 2);
        fields.push({ at: q, width: 2, what: `${w} extra id` }, { at: q + 2, width: 2, what: `${w} extra length field` });
        for (let v = q + 4; v + 8 <= q + 4 + len && v + 8 <= file.length; v += 8) fields.push({ at: v, width: 8, what: `${w} ZIP64 extra value` });
        q += 4 + len;
      }
      regions.push({ start: p, end: Math.min(file.length, p + 46 + n + x + c), what: w });
      cuts.push(p, p + 46 + n + x + c);
    } else if (sig === 0x08074b50 && p + 16 <= file.length) {
      fields.push({ at: p + 8, width: 4, what: `data descriptor at ${p} compressed size` }, { at: p + 12, width: 4, what: `data descriptor at ${p} size` });
      regions.push({ start: p, end: p + 16, what: `data descriptor at ${p}` });
      cuts.push(p, p + 16);
    } else if (sig === 0x06054b50 && p + 22 <= file.length) {
      const w = `end record at ${p}`;
      fields.push(
        { at: p, width: 4, what: `${w} signature` },
        { at: p + 4, width: 2, what: `${w} disk` },
        { at: p + 6, width: 2, what: `${w} directory disk` },
        { at: p + 8, width: 2, what: `${w} entries on disk` },
        { at: p + 10, width: 2, what: `${w} entries` },
        { at: p + 12, width: 4, what: `${w} directory size` },
        { at: p + 16, width: 4, what: `${w} directory offset` },
        { at: p + 20, width: 2, what: `${w} comment length` },
      );
      regions.push({ start: p, end: file.length, what: w });
      cuts.push(p, p + 22);
    } else if (sig === 0x06064b50 && p + 56 <= file.length) {
      const w = `ZIP64 end record at ${p}`;
      fields.push(
        { at: p, width: 4, what: `${w} signature` },
        { at: p + 4, width: 8, what: `${w} record size` },
        { at: p + 16, width: 4, what: `${w} disk` },
        { at: p + 20, width: 4, what: `${w} directory disk` },
        { at: p + 24, width: 8, what: `${w} entries on disk` },
        { at: p + 32, width: 8, what: `${w} entries` },
        { at: p + 40, width: 8, what: `${w} directory size` },
        { at: p + 48, width: 8, what: `${w} directory offset` },
      );
      regions.push({ start: p, end: p + 56, what: w });
      cuts.push(p, p + 56);
    } else if (sig === 0x07064b50 && p + 20 <= file.length) {
      const w = `ZIP64 locator at ${p}`;
      fields.push(
        { at: p, width: 4, what: `${w} signature` },
        { at: p + 4, width: 4, what: `${w} disk` },
        { at: p + 8, width: 8, what: `${w} record offset` },
        { at: p + 16, width: 4, what: `${w} total disks` },
      );
      regions.push({ start: p, end: p + 20, what: w });
      cuts.push(p, p + 20);
    }
  }
  return { fields, regions, cuts };
}

// ---------------------------------------------------------------------------------------------
// pickle

type Arg = 'none' | 'u1' | 'u2' | 'u4' | 'i4' | 'u8' | 'f8' | 'line' | 'lines2' | 'len1' | 'len4' | 'len8' | 'ilen4';

/** The argument of every opcode the reader knows (and a few it does not), for disassembly. */
export const PICKLE_ARGS = new Map<number, Arg>([
  [0x80, 'u1'], [0x95, 'u8'], [0x2e, 'none'], [0x28, 'none'], [0x30, 'none'], [0x31, 'none'], [0x32, 'none'],
  [0x70, 'line'], [0x71, 'u1'], [0x72, 'u4'], [0x94, 'none'], [0x67, 'line'], [0x68, 'u1'], [0x6a, 'u4'],
  [0x4e, 'none'], [0x88, 'none'], [0x89, 'none'], [0x49, 'line'], [0x4a, 'i4'], [0x4b, 'u1'], [0x4d, 'u2'],
  [0x4c, 'line'], [0x8a, 'len1'], [0x8b, 'ilen4'], [0x46, 'line'], [0x47, 'f8'], [0x58, 'len4'], [0x8c, 'len1'],
  [0x8d, 'len8'], [0x54, 'ilen4'], [0x55, 'len1'], [0x42, 'len4'], [0x43, 'len1'], [0x8e, 'len8'], [0x96, 'len8'],
  [0x98, 'none'], [0x29, 'none'], [0x74, 'none'], [0x85, 'none'], [0x86, 'none'], [0x87, 'none'], [0x5d, 'none'],
  [0x6c, 'none'], [0x61, 'none'], [0x65, 'none'], [0x7d, 'none'], [0x64, 'none'], [0x73, 'none'], [0x75, 'none'],
  [0x8f, 'none'], [0x90, 'none'], [0x91, 'none'], [0x63, 'lines2'], [0x93, 'none'], [0x52, 'none'], [0x81, 'none'],
  [0x92, 'none'], [0x69, 'lines2'], [0x6f, 'none'], [0x62, 'none'], [0x50, 'line'], [0x51, 'none'],
  // Opcodes the reader refuses: STRING, UNICODE, EXT1/2/4, NEXT_BUFFER.
  [0x53, 'line'], [0x56, 'line'], [0x82, 'u1'], [0x83, 'u2'], [0x84, 'u4'], [0x97, 'none'],
]);

export interface PickleOp {
  at: number;
  op: number;
  end: number;
}

/** Opcode positions of a pickle (stops at the first unknown opcode or at the end of the data). */
export function disassemble(data: Uint8Array): PickleOp[] {
  const ops: PickleOp[] = [];
  let p = 0;
  const lineEnd = (from: number): number => {
    const e = data.indexOf(0x0a, from);
    return e < 0 ? data.length : e + 1;
  };
  while (p < data.length) {
    const op = data[p]!;
    const arg = PICKLE_ARGS.get(op);
    if (arg === undefined) break;
    let q = p + 1;
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    switch (arg) {
      case 'none': break;
      case 'u1': q += 1; break;
      case 'u2': q += 2; break;
      case 'u4': case 'i4': q += 4; break;
      case 'u8': case 'f8': q += 8; break;
      case 'line': q = lineEnd(q); break;
      case 'lines2': q = lineEnd(lineEnd(q)); break;
      case 'len1': q += 1 + (data[q] ?? 0); break;
      case 'len4': case 'ilen4': q += 4 + (q + 4 <= data.length ? dv.getUint32(q, true) : 0); break;
      case 'len8': q += 8 + (q + 8 <= data.length ? Number(dv.getBigUint64(q, true)) : 0); break;
    }
    ops.push({ at: p, op, end: Math.min(q, data.length) });
    if (op === 0x2e) break;
    p = q;
  }
  return ops;
}

/** A pickle: every opcode's length or index argument is a field; every opcode boundary a cut. */
export function pickleShape(data: Uint8Array): Shape {
  const fields: Field[] = [];
  const regions: Region[] = [];
  const cuts: number[] = [];
  for (const { at, op, end } of disassemble(data)) {
    cuts.push(at);
    const arg = PICKLE_ARGS.get(op);
    const name = `opcode 0x${op.toString(16)} at ${at}`;
    if (arg === 'u1' || arg === 'len1') fields.push({ at: at + 1, width: 1, what: `${name} argument` });
    if (arg === 'u2') fields.push({ at: at + 1, width: 2, what: `${name} argument` });
    if (arg === 'u4' || arg === 'i4' || arg === 'len4' || arg === 'ilen4') fields.push({ at: at + 1, width: 4, what: `${name} argument` });
    if (arg === 'u8' || arg === 'len8') fields.push({ at: at + 1, width: 8, what: `${name} argument` });
    if (op === 0x80 || op === 0x95 || op === 0x2e) regions.push({ start: at, end, what: name });
  }
  if (data.length > 0) regions.push({ start: Math.max(0, data.length - 8), end: data.length, what: 'end of the pickle' });
  return { fields, regions, cuts };
}
