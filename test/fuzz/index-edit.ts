/**
 * Edits of a container's index that keep its checksum right: the JSON is changed, coded again and
 * the footer rewritten, so the reader's validation (not just its checksum) is what must catch it.
 */
import { xxh64 } from '@node-rs/xxhash';
import { encodeWith } from '../../src/codec/coders.js';
import { planeLengths } from '../../src/codec/planes.js';
import { splitByName } from '../../src/codec/splits.js';
import { encodeFooter } from '../../src/container/format.js';
import type { MthSeed } from './corpus.js';
import type { Mutation } from './mutate.js';
import type { Rng } from './prng.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The container with its index replaced by `json` (whatever it holds), checksum and footer made right. */
export function resealIndex(container: Uint8Array, indexOffset: number, json: Uint8Array): Uint8Array {
  const coded = encodeWith('zstd1', json).slice();
  const footer = encodeFooter({ indexOffset, indexCodedLength: coded.length, indexLength: json.length, indexXxh64: xxh64(json) });
  const out = new Uint8Array(indexOffset + coded.length + footer.length);
  out.set(container.subarray(0, indexOffset), 0);
  out.set(coded, indexOffset);
  out.set(footer, indexOffset + coded.length);
  return out;
}

const NAMES = [
  'raw', 'huf', 'zstd1', 'zstd19', 'residual', 'bytes', 'bits16', 'bits32', 'bytes2', 'bytes4', 'bytes8', 'delta',
  'BF16', 'F16', 'F32', 'F64', 'I64', 'U8', 'planes', 'rans', 'opaque', 'tensor', 'header', 'safetensors', 'torch',
];

function hostileNumber(rng: Rng, v: number): Json {
  return rng.pick<() => Json>([
    () => 0, () => -1, () => v + 1, () => v - 1, () => v + rng.range(2, 4096), () => v - rng.range(2, 4096), () => v * 2,
    () => Math.floor(v / 2), () => 2 ** 31, () => 2 ** 32, () => 2 ** 53, () => 2 ** 53 + 2, () => 1e308, () => v + 0.5,
    () => -0, () => null, () => String(v), () => [v], () => ({}), () => 256 * 1024 * 1024, () => 256 * 1024 * 1024 + 1,
    () => 1024 ** 3, () => rng.int(2 ** 31), () => true,
  ])();
}

function hostileString(rng: Rng, s: string): Json {
  return rng.pick<() => Json>([
    () => '', () => `${s}\n${s}`, () => `${s}"`, () => s.toUpperCase(), () => rng.pick(NAMES), () => rng.pick(NAMES),
    () => 'x'.repeat(rng.small(20000)), () => 0, () => null, () => s.slice(0, -1), () => `${s}\u0000`, () => '\ud800',
    () => (/^[0-9a-f]{16}$/.test(s) ? s.replace(/./, (c) => (c === '0' ? '1' : '0')) : `${s}0`),
  ])();
}

function hostileValue(rng: Rng, v: Json): Json {
  if (typeof v === 'number') return hostileNumber(rng, v);
  if (typeof v === 'string') return hostileString(rng, v);
  if (Array.isArray(v)) {
    return rng.pick<() => Json>([() => [], () => null, () => [...v, ...v], () => v.slice(1), () => [v], () => ({}), () => v.slice().reverse()])();
  }
  if (v && typeof v === 'object') return rng.pick<() => Json>([() => ({}), () => null, () => [], () => 'x', () => ({ ...v, extra: 1 })])();
  return rng.pick<Json>([0, null, '', [], {}, true]);
}

interface Slot {
  parent: Json[] | { [key: string]: Json };
  key: string | number;
  path: string;
}

function slots(root: Json): Slot[] {
  const out: Slot[] = [];
  const walk = (v: Json, path: string): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        out.push({ parent: v, key: i, path: `${path}[${i}]` });
        walk(x, `${path}[${i}]`);
      });
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.push({ parent: v, key: k, path: `${path}.${k}` });
        walk(x, `${path}.${k}`);
      }
    }
  };
  walk(root, '');
  return out;
}

const getSlot = (s: Slot): Json => (s.parent as Record<string | number, Json>)[s.key]!;
const setSlot = (s: Slot, v: Json): void => {
  (s.parent as Record<string | number, Json>)[s.key] = v;
};

/** Where a deeply nested value goes in the index text (JSON.stringify cannot write one). */
const DEEP = '__fuzz_deep_value__';

/** One edit of a copy of the seed's index; returns the re-sealed container. */
export function indexEdit(rng: Rng, seed: MthSeed): Mutation {
  const index = structuredClone(seed.index) as unknown as { [key: string]: Json };
  const all = slots(index);
  const action = rng.weighted<string>([
    [6, 'value'],
    [1, 'delete'],
    [1, 'duplicate'],
    [1, 'grow-last-chunk'],
    [1, 'swap-chunk-offsets'],
    [1, 'text'],
    [1, 'bases'],
    [0.5, 'deep'],
  ]);
  let desc: string;
  let json: Uint8Array | undefined;
  switch (action) {
    case 'value': {
      // Mostly the numbers and names a reader relies on; sometimes anything.
      const important = all.filter((s) => /(offset|rawOffset|rawLength|codedLength|length|size|split|coder|dtype|beta|base|xxh64|coding|kind)$/.test(String(s.key)));
      const s = rng.chance(0.7) && important.length ? rng.pick(important) : rng.pick(all);
      const before = getSlot(s);
      const after = hostileValue(rng, before);
      setSlot(s, after);
      desc = `index ${s.path}: ${short(before)} -> ${short(after)}`;
      break;
    }
    case 'delete': {
      const s = rng.pick(all);
      if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
      else delete s.parent[s.key as string];
      desc = `index: delete ${s.path}`;
      break;
    }
    case 'duplicate': {
      const arrays = all.filter((s) => Array.isArray(getSlot(s)) && (getSlot(s) as Json[]).length > 0);
      const s = rng.pick(arrays);
      const arr = getSlot(s) as Json[];
      const i = rng.int(arr.length);
      const j = rng.int(arr.length);
      if (rng.chance(0.5)) {
        arr.splice(j, 0, structuredClone(arr[i]!));
        desc = `index ${s.path}: duplicate [${i}] at [${j}]`;
      } else {
        [arr[i], arr[j]] = [arr[j]!, arr[i]!];
        desc = `index ${s.path}: swap [${i}] and [${j}]`;
      }
      break;
    }
    case 'grow-last-chunk': {
      // A coherent lie: the last chunk, the last segment and the source all claim D more bytes.
      const chunks = index.chunks as { [key: string]: Json }[];
      const segments = index.segments as { [key: string]: Json }[];
      const last = chunks[chunks.length - 1]!;
      const streams = last.streams as { [key: string]: Json }[];
      const d = rng.weighted<() => number>([
        [70, () => rng.small(1 << 20)],
        [25, () => rng.small(64 << 20)],
        [5, () => (256 << 20) - (last.rawLength as number) - rng.int(2)],
      ])();
      last.rawLength = (last.rawLength as number) + d;
      // Plane lengths as the split makes them, so that only the coded data disagrees.
      const split = typeof last.split === 'string' ? splitByName(last.split === 'delta' ? 'bytes' : last.split) : undefined;
      const planes = split ? planeLengths(split, last.rawLength) : [last.rawLength];
      if (planes.length === streams.length) planes.forEach((n, k) => (streams[k]!.rawLength = n));
      else streams[streams.length - 1]!.rawLength = (streams[streams.length - 1]!.rawLength as number) + d;
      segments[segments.length - 1]!.length = (segments[segments.length - 1]!.length as number) + d;
      (index.source as { [key: string]: Json }).size = ((index.source as { [key: string]: Json }).size as number) + d;
      desc = `index: last chunk, segment and source grown by ${d} bytes (split ${String(last.split)})`;
      break;
    }
    case 'swap-chunk-offsets': {
      const chunks = index.chunks as { [key: string]: Json }[];
      const i = rng.int(chunks.length);
      const j = rng.int(chunks.length);
      [chunks[i]!.offset, chunks[j]!.offset] = [chunks[j]!.offset!, chunks[i]!.offset!];
      if (rng.chance(0.5)) [chunks[i]!.streams, chunks[j]!.streams] = [chunks[j]!.streams!, chunks[i]!.streams!];
      desc = `index: swap the coded data of chunks ${i} and ${j}`;
      break;
    }
    case 'deep': {
      // A value nested thousands deep where the reader (or its error message) may recurse.
      const important = all.filter((s) => /^(split|coder|dtype|kind|shape|name|delta|refs|streams|bases|role|offset|rawLength)$/.test(String(s.key)));
      const s = rng.pick(important.length ? important : all);
      setSlot(s, DEEP);
      const depth = rng.pick([1000, 10_000, 100_000, 1_000_000]);
      const arrays = rng.chance(0.5);
      const deep = arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      json = new TextEncoder().encode(JSON.stringify(index).replace(`"${DEEP}"`, () => deep));
      desc = `index ${s.path}: ${arrays ? 'arrays' : 'objects'} nested ${depth} deep`;
      break;
    }
    case 'text': {
      const text = new TextEncoder().encode(JSON.stringify(index));
      const at = rng.int(text.length);
      const kind = rng.pick(['flip', 'digit', 'quote', 'cut', 'utf8'] as const);
      if (kind === 'flip') text[at]! ^= 1 << rng.int(8);
      else if (kind === 'digit') text[at] = 0x30 + rng.int(10);
      else if (kind === 'quote') text[at] = 0x22;
      else if (kind === 'utf8') text[at] = rng.pick([0xc0, 0xff, 0xed, 0x80]);
      json = kind === 'cut' ? text.slice(0, at) : text;
      desc = `index JSON text: ${kind} at ${at}`;
      break;
    }
    default: {
      // Bases: claim one (or another) base, or break the records.
      const source = index.source as { [key: string]: Json };
      const bases = (index.bases as Json[] | undefined) ?? [];
      const choice = rng.int(4);
      if (choice === 0) index.bases = [...bases, { ...source, name: `other\nbase "${rng.int(100)}"` }];
      else if (choice === 1 && bases.length) (bases[0] as { [key: string]: Json }).xxh64 = '0123456789abcdef';
      else if (choice === 2 && bases.length) (bases[0] as { [key: string]: Json }).name = 'line one\nline two.safetensors';
      else index.bases = hostileValue(rng, bases);
      desc = `index bases edit ${choice}`;
      break;
    }
  }
  json ??= new TextEncoder().encode(JSON.stringify(index));
  return { bytes: resealIndex(seed.container, seed.indexOffset, json), desc: `${desc} (re-sealed)` };
}

function short(v: Json | undefined): string {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
