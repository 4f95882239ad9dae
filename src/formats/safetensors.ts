import { MithrilError, type ErrorCode } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import { elementSize } from '../dtypes.js';
import type { Layout, Segment } from './layout.js';
import { SAFETENSORS_MAX_HEADER } from '../limits.js';
export { SAFETENSORS_MAX_HEADER };

const OPEN_BRACE = 0x7b;

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Cheap check on the first bytes of a file: a plausible header length followed by '{'. */
export function looksLikeSafetensors(first16: Uint8Array, size: number): boolean {
  if (size < 10 || first16.length < 9) return false;
  const n = new DataView(first16.buffer, first16.byteOffset, 8).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(size - 8) && n <= BigInt(SAFETENSORS_MAX_HEADER) && first16[8] === OPEN_BRACE;
}

export async function readSafetensorsLayout(source: ByteSource): Promise<Layout> {
  function fail(problem: string, code: ErrorCode = 'INVALID_CHECKPOINT'): never {
    throw new MithrilError(source.name, problem, code);
  }
  const size = source.size;
  if (size < 8) fail(`file is ${size} bytes, too short for a safetensors header (needs at least 8)`);

  const prefix = await source.read(0, 8);
  const n64 = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(size - 8)) fail(`header length ${n64} exceeds file size (${size} bytes)`);
  if (n64 > BigInt(SAFETENSORS_MAX_HEADER)) {
    fail(`header length ${n64} exceeds the ${SAFETENSORS_MAX_HEADER}-byte limit`);
  }
  const headerLength = Number(n64);
  const dataStart = 8 + headerLength;
  const dataSize = size - dataStart;

  const headerBytes = await source.read(8, headerLength);
  if (headerBytes[0] !== OPEN_BRACE) fail(`invalid JSON header: does not start with '{'`);
  let header: unknown;
  try {
    // ignoreBOM keeps a byte-order mark in the text so JSON.parse rejects it, as the spec requires.
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
    header = JSON.parse(text);
  } catch (e) {
    fail(`invalid JSON header: ${oneLine(e instanceof Error ? e.message : String(e))}`);
  }
  if (!isObject(header)) fail('invalid header: the JSON header is not an object');

  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      checkMetadata(value, fail);
      continue;
    }
    entries.push(checkEntry(name, value, dataSize, fail));
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // Sorted by begin, so a tensor can only overlap the furthest-reaching non-empty tensor before it.
  // An empty tensor strictly inside another has no position in a file-ordered layout, so it is rejected too.
  let last: Entry | undefined;
  for (const e of entries) {
    if (last && e.begin < last.end) {
      fail(`tensors ${quote(last.name)} [${last.begin}, ${last.end}) and ${quote(e.name)} [${e.begin}, ${e.end}) overlap`);
    }
    if (e.end > e.begin) last = e;
  }

  const segments: Segment[] = [{ kind: 'opaque', role: 'header', offset: 0, length: dataStart }];
  let cursor = dataStart;
  for (const e of entries) {
    const offset = dataStart + e.begin;
    if (offset > cursor) segments.push({ kind: 'opaque', role: 'gap', offset: cursor, length: offset - cursor });
    segments.push({ kind: 'tensor', name: e.name, dtype: e.dtype, shape: e.shape, offset, length: e.end - e.begin });
    cursor = dataStart + e.end;
  }
  if (size > cursor) segments.push({ kind: 'opaque', role: 'trailing', offset: cursor, length: size - cursor });

  return { format: 'safetensors', size, segments };
}

// Names and parser messages come from the file: keep them on one line with control characters escaped.
function quote(name: string): string {
  return JSON.stringify(name);
}

/** A short description of a JSON value from the file (which may be huge or nested without end). */
function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (typeof value === 'string') return quote(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

function oneLine(message: string): string {
  return message.replace(/\s+/g, ' ');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function checkMetadata(value: unknown, fail: (problem: string) => never): void {
  // The reference implementation reads __metadata__ as an optional map, so null means "absent".
  if (value === null) return;
  if (!isObject(value)) fail('invalid header: __metadata__ is not an object');
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(`invalid header: __metadata__ value for ${quote(key)} is not a string`);
  }
}

function checkEntry(name: string, value: unknown, dataSize: number, fail: (problem: string, code?: ErrorCode) => never): Entry {
  function bad(what: string): never {
    fail(`invalid header: tensor ${quote(name)} ${what}`);
  }
  if (!isObject(value)) bad('is not an object');

  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || dtype === '') bad('has a missing or non-string dtype');
  if (!Array.isArray(shape)) bad('has a missing or non-array shape');
  for (const dim of shape) {
    if (!isIndex(dim)) bad(`has shape entry ${describeValue(dim)}, which is not a non-negative integer`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2) bad('has data_offsets that are not a [begin, end] pair');
  const [b, e] = offsets as unknown[];
  if (!isIndex(b) || !isIndex(e)) bad('has data_offsets that are not non-negative integers');
  if (b > e) bad(`has data_offsets begin ${b} > end ${e}`);
  // A well-formed header whose data runs past the end: the file was cut short.
  if (e > dataSize) fail(`truncated: tensor ${quote(name)} has data_offsets end ${e} beyond the end of file (data buffer is ${dataSize} bytes)`, 'TRUNCATED');

  const size = elementSize(dtype);
  if (size !== undefined) {
    // BigInt: the product of a hostile shape can exceed 2^53.
    const expected = (shape as number[]).reduce((acc, dim) => acc * BigInt(dim), 1n) * BigInt(size);
    if (expected !== BigInt(e - b)) {
      bad(`has size mismatch: ${dtype} shape [${shape.join(', ')}] needs ${expected} bytes, data_offsets span ${e - b}`);
    }
  }
  return { name, dtype, shape: shape as number[], begin: b, end: e };
}
