/**
 * Byte-level mutations, each returning a new buffer (the input is never changed) and a short
 * description of what it did (recorded with every failing case).
 *
 * `Shape` tells the mutators where a file's structure is: integer fields (length, offset and count
 * fields at header positions) to edit with interesting values, and regions (headers, footers,
 * directories) where half of the positions are drawn, so that mutations of a 2 MiB file do not
 * nearly all land in tensor data.
 */
import type { Rng } from './prng.js';

export interface Field {
  at: number;
  width: 1 | 2 | 4 | 8;
  what: string;
  /** Big-endian (e.g. a zstd magic number is little-endian, like almost everything here). */
  bigEndian?: boolean;
}

export interface Region {
  start: number;
  end: number;
  what: string;
}

export interface Shape {
  fields: Field[];
  regions: Region[];
  /** Positions where a cut or an insertion is most interesting (record boundaries). */
  cuts: number[];
}

export interface Mutation {
  bytes: Uint8Array;
  desc: string;
}

export type ByteMutator = (rng: Rng, input: Uint8Array, shape: Shape) => Mutation;

/** A position in [0, length): half the time inside one of the shape's regions. */
export function position(rng: Rng, length: number, shape: Shape, focus = 0.5): number {
  if (length === 0) return 0;
  const regions = shape.regions.filter((r) => r.start < length && r.end > r.start);
  if (regions.length > 0 && rng.chance(focus)) {
    const r = rng.pick(regions);
    return Math.min(length - 1, r.start + rng.int(Math.min(r.end, length) - r.start));
  }
  return rng.int(length);
}

function regionName(shape: Shape, at: number): string {
  const r = shape.regions.find((x) => at >= x.start && at < x.end);
  return r ? ` (${r.what})` : '';
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const bitFlips: ByteMutator = (rng, input, shape) => {
  const out = new Uint8Array(input);
  if (out.length === 0) return { bytes: out, desc: 'bitflip (empty input)' };
  const count = rng.small(8);
  const at = position(rng, out.length, shape);
  const spots: string[] = [];
  for (let i = 0; i < count; i++) {
    // Clustered flips (a damaged sector) or scattered ones.
    const p = i === 0 || rng.chance(0.3) ? (i === 0 ? at : position(rng, out.length, shape)) : Math.min(out.length - 1, at + rng.int(64));
    const bit = rng.int(8);
    out[p]! ^= 1 << bit;
    spots.push(`${p}.${bit}`);
  }
  return { bytes: out, desc: `bitflip ${spots.join(',')}${regionName(shape, at)}` };
};

export const setBytes: ByteMutator = (rng, input, shape) => {
  const out = new Uint8Array(input);
  if (out.length === 0) return { bytes: out, desc: 'byteset (empty input)' };
  const at = position(rng, out.length, shape);
  const count = Math.min(out.length - at, rng.small(32));
  const kind = rng.pick(['0x00', '0xff', 'random', '0x7f', '0x80'] as const);
  for (let i = 0; i < count; i++) {
    out[at + i] = kind === '0x00' ? 0 : kind === '0xff' ? 0xff : kind === '0x7f' ? 0x7f : kind === '0x80' ? 0x80 : rng.byte();
  }
  return { bytes: out, desc: `byteset ${count}×${kind} at ${at}${regionName(shape, at)}` };
};

export const truncate: ByteMutator = (rng, input, shape) => {
  const n = input.length;
  const at = rng.weighted<() => number>([
    [3, () => rng.int(n + 1)],
    [3, () => Math.max(0, n - rng.small(Math.max(1, n)))],
    [2, () => (shape.cuts.length ? Math.min(n, Math.max(0, rng.pick(shape.cuts) + rng.range(-2, 2))) : rng.int(n + 1))],
    [2, () => position(rng, n, shape, 1)],
    [1, () => rng.int(Math.min(n + 1, 64))],
  ])();
  return { bytes: input.slice(0, at), desc: `truncate to ${at} of ${n}${regionName(shape, at)}` };
};

export const extend: ByteMutator = (rng, input) => {
  const count = rng.small(65536);
  const kind = rng.pick(['zeros', 'random', 'copy of the tail', 'copy of the head'] as const);
  let extra: Uint8Array;
  if (kind === 'zeros') extra = new Uint8Array(count);
  else if (kind === 'random') extra = rng.bytes(Math.min(count, 4096));
  else if (kind === 'copy of the tail') extra = input.slice(Math.max(0, input.length - count));
  else extra = input.slice(0, count);
  return { bytes: concat(input, extra), desc: `extend by ${extra.length} bytes (${kind})` };
};

export const insert: ByteMutator = (rng, input, shape) => {
  const at = shape.cuts.length && rng.chance(0.4) ? Math.min(input.length, rng.pick(shape.cuts)) : position(rng, input.length + 1, shape);
  const count = rng.small(4096);
  const extra = rng.chance(0.5) ? new Uint8Array(count) : rng.bytes(count);
  return { bytes: concat(input.subarray(0, at), extra, input.subarray(at)), desc: `insert ${count} bytes at ${at}${regionName(shape, at)}` };
};

export const remove: ByteMutator = (rng, input, shape) => {
  if (input.length === 0) return { bytes: input.slice(), desc: 'remove (empty input)' };
  const at = position(rng, input.length, shape);
  const count = Math.min(input.length - at, rng.small(4096));
  return { bytes: concat(input.subarray(0, at), input.subarray(at + count)), desc: `remove ${count} bytes at ${at}${regionName(shape, at)}` };
};

/** Copies a span from elsewhere in the file over (or into) another place. */
export const splice: ByteMutator = (rng, input, shape) => {
  if (input.length < 2) return { bytes: input.slice(), desc: 'splice (too short)' };
  const count = rng.small(Math.min(8192, input.length - 1));
  const from = rng.int(input.length - count + 1);
  const span = input.slice(from, from + count);
  const at = position(rng, input.length, shape);
  if (rng.chance(0.5)) {
    const out = new Uint8Array(input);
    out.set(span.subarray(0, Math.min(span.length, out.length - at)), at);
    return { bytes: out, desc: `splice ${count} bytes from ${from} over ${at}${regionName(shape, at)}` };
  }
  return { bytes: concat(input.subarray(0, at), span, input.subarray(at)), desc: `splice ${count} bytes from ${from} into ${at}${regionName(shape, at)}` };
};

const MASK: Record<Field['width'], bigint> = { 1: 0xffn, 2: 0xffffn, 4: 0xffffffffn, 8: 0xffffffffffffffffn };

function readField(bytes: Uint8Array, f: Field): bigint {
  let v = 0n;
  for (let i = 0; i < f.width; i++) {
    const b = BigInt(bytes[f.at + (f.bigEndian ? i : f.width - 1 - i)] ?? 0);
    v = (v << 8n) | b;
  }
  return v;
}

function writeField(bytes: Uint8Array, f: Field, value: bigint): void {
  let v = value & MASK[f.width];
  for (let i = 0; i < f.width; i++) {
    const at = f.at + (f.bigEndian ? f.width - 1 - i : i);
    if (at < bytes.length) bytes[at] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** Values that break length and offset checks: boundaries, the file size and its neighbours, sentinels. */
export function interesting(rng: Rng, current: bigint, width: Field['width'], fileSize: number, at: number): bigint {
  const max = MASK[width];
  const size = BigInt(fileSize);
  const candidates: bigint[] = [
    0n, 1n, 2n, max, max - 1n, max >> 1n, (max >> 1n) + 1n, current + 1n, current - 1n,
    current + BigInt(rng.range(2, 64)), current - BigInt(rng.range(2, 64)), current * 2n, current >> 1n,
    size, size - 1n, size + 1n, size - BigInt(at), size - BigInt(at) + 1n, size * 2n, BigInt(rng.int(fileSize + 1)),
    0xffffn, 0x10000n, 0xffffffffn, 0x100000000n, 0x7fffffffn, 0x80000000n,
    2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 1n << BigInt(rng.int(64)), rng.u64() & max,
  ];
  return rng.pick(candidates) & max;
}

export const fieldEdit: ByteMutator = (rng, input, shape) => {
  const fields = shape.fields.filter((f) => f.at + f.width <= input.length);
  if (fields.length === 0) return bitFlips(rng, input, shape);
  const f = rng.pick(fields);
  const out = new Uint8Array(input);
  const before = readField(out, f);
  const value = interesting(rng, before, f.width, input.length, f.at);
  writeField(out, f, value);
  return { bytes: out, desc: `field ${f.what} (u${f.width * 8} at ${f.at}) ${before} -> ${value}` };
};

export const BYTE_MUTATORS: readonly (readonly [number, ByteMutator])[] = [
  [3, bitFlips],
  [2, setBytes],
  [2, truncate],
  [1, extend],
  [1, insert],
  [1, remove],
  [1, splice],
  [3, fieldEdit],
];

/** How many mutations to stack in one case: mostly one. */
export function mutationCount(rng: Rng): number {
  return rng.weighted([
    [60, 1],
    [25, 2],
    [10, 3],
    [5, 4],
  ]);
}
