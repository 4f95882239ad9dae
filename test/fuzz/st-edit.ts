/**
 * Edits of a safetensors JSON header: offsets, dtypes, shapes, names, metadata, duplicate keys,
 * numbers too big for a double, odd headers; the file is then written again with its header
 * length (usually) made right, so that the parser's checks, not the length check, meet the edit.
 */
import { bitFlips, type Mutation, type Shape } from './mutate.js';
import type { Rng } from './prng.js';

type Entry = { dtype?: unknown; shape?: unknown; data_offsets?: unknown; [key: string]: unknown };

const DTYPES: unknown[] = [
  'BF16', 'F16', 'F32', 'F64', 'I8', 'U8', 'I16', 'U16', 'I32', 'U32', 'I64', 'U64', 'BOOL', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0',
  '', 'bf16', 'F4', 'C64', 'F32\n', 'X'.repeat(300), 5, null, ['F32'], {},
];

/** Splits a safetensors file into its parsed header (if it parses) and its data. */
function parse(file: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } | undefined {
  if (file.length < 8) return undefined;
  const n = new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(file.length - 8)) return undefined;
  try {
    const header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + Number(n)))) as unknown;
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined;
    return { header: header as Record<string, unknown>, data: file.subarray(8 + Number(n)) };
  } catch {
    return undefined;
  }
}

function write(rng: Rng, text: string, data: Uint8Array, oldLength: number | undefined): { bytes: Uint8Array; note: string } {
  let json = text;
  const pad = rng.chance(0.5);
  const encoded = (s: string): Uint8Array => new TextEncoder().encode(s);
  if (pad) json += ' '.repeat((8 - (encoded(json).length % 8)) % 8);
  const body = encoded(json);
  const keepLength = oldLength !== undefined && rng.chance(0.1);
  const out = new Uint8Array(8 + body.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(keepLength ? oldLength : body.length), true);
  out.set(body, 8);
  out.set(data, 8 + body.length);
  return { bytes: out, note: keepLength ? ', old header length kept' : '' };
}

function tensors(header: Record<string, unknown>): string[] {
  return Object.keys(header).filter((k) => k !== '__metadata__');
}

function offsetsOf(e: unknown): [number, number] {
  const o = (e as Entry | undefined)?.data_offsets;
  return Array.isArray(o) && typeof o[0] === 'number' && typeof o[1] === 'number' ? [o[0], o[1]] : [0, 0];
}

export function headerEdit(rng: Rng, file: Uint8Array, shape: Shape): Mutation {
  try {
    return edit(rng, file, shape);
  } catch (e) {
    // A header made by an earlier edit may be too deep for JSON.stringify: flip bits instead.
    const m = bitFlips(rng, file, shape);
    return { bytes: m.bytes, desc: `${m.desc} (header edit impossible: ${String(e).slice(0, 60)})` };
  }
}

/** Where a deeply nested value goes in the header text (JSON.stringify cannot write one). */
const DEEP = '__fuzz_deep_value__';

function edit(rng: Rng, file: Uint8Array, shape: Shape): Mutation {
  const parsed = parse(file);
  if (!parsed) return bitFlips(rng, file, shape);
  const { header, data } = parsed;
  const oldLength = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  const names = tensors(header);
  const dataSize = data.length;
  const pickName = (): string => (names.length ? rng.pick(names) : 'none');
  const entry = (name: string): Entry => {
    const e = header[name];
    if (typeof e === 'object' && e !== null && !Array.isArray(e)) return e as Entry;
    const fresh: Entry = { dtype: 'U8', shape: [0], data_offsets: [0, 0] };
    header[name] = fresh;
    return fresh;
  };
  const action = rng.weighted<string>([
    [3, 'offsets'],
    [2, 'dtype'],
    [2, 'shape'],
    [1, 'rename'],
    [1, 'add'],
    [1, 'remove'],
    [1, 'metadata'],
    [0.5, 'whole'],
    [0.5, 'duplicate-key'],
    [1, 'number-text'],
    [0.5, 'reorder'],
    [0.3, 'many-tensors'],
    [0.5, 'deep'],
  ]);
  let desc = '';
  let text: string | undefined;
  switch (action) {
    case 'offsets': {
      const name = pickName();
      const e = entry(name);
      const [b, en] = offsetsOf(e);
      const other = offsetsOf(header[pickName()]);
      const k = rng.small(64);
      const value = rng.pick<unknown>([
        [b, en + k], [b, en - k], [b + k, en], [b - k, en], [en, b], other, [other[0], en], [0, dataSize + 1], [dataSize, dataSize],
        [0, dataSize], [2 ** 53, 2 ** 53 + 2], [1e20, 1e20], [-1, en], [b + 0.5, en], [String(b), String(en)], [b], [b, en, en],
        null, {}, [b, 2 ** 64], [0, 0], [dataSize + 1, dataSize + 1],
      ]);
      e.data_offsets = value;
      desc = `data_offsets of ${JSON.stringify(name)} [${b}, ${en}] -> ${JSON.stringify(value)}`;
      break;
    }
    case 'dtype': {
      const name = pickName();
      const value = rng.pick(DTYPES);
      entry(name).dtype = value;
      desc = `dtype of ${JSON.stringify(name)} -> ${JSON.stringify(value)}`;
      break;
    }
    case 'shape': {
      const name = pickName();
      const e = entry(name);
      const old = Array.isArray(e.shape) ? (e.shape as unknown[]) : [];
      const value = rng.pick<unknown>([
        [], [0], [2 ** 53], [2 ** 32, 2 ** 32], [2 ** 26, 2 ** 26, 2 ** 26], [-1], [1.5], ['2'], [[1]], null, 'x',
        [...old, 1], old.slice(1), [...old, 0], new Array(rng.small(2000)).fill(1), [1e308], [2 ** 31, 2],
        old.map((d) => (typeof d === 'number' ? d * 2 : d)),
      ]);
      e.shape = value;
      desc = `shape of ${JSON.stringify(name)} -> ${JSON.stringify(value).slice(0, 60)}`;
      break;
    }
    case 'rename': {
      const name = pickName();
      const value = rng.pick(['', '\n', 'a\nb', '__metadata__', pickName(), 'x'.repeat(rng.small(100000)), '\u0000', '\ud800', 'tab\there', '"quoted"']);
      const e = header[name];
      delete header[name];
      header[value] = e;
      desc = `rename ${JSON.stringify(name)} -> ${JSON.stringify(value).slice(0, 40)}`;
      break;
    }
    case 'add': {
      const at = rng.int(dataSize + 1);
      const [b, en] = offsetsOf(header[pickName()]);
      const value = rng.pick<Entry>([
        { dtype: 'U8', shape: [0], data_offsets: [at, at] },
        { dtype: 'U8', shape: [en - b], data_offsets: [b, en] },
        { dtype: 'U8', shape: [1], data_offsets: [dataSize, dataSize + 1] },
        { dtype: 'F4', shape: [3], data_offsets: [at, Math.min(dataSize, at + 3)] },
        { dtype: 'U8', shape: [0], data_offsets: [b + 1, b + 1] },
        { dtype: 'I64', shape: [], data_offsets: [at, at + 8] },
      ]);
      header[`added${rng.int(1000)}`] = value;
      desc = `add tensor ${JSON.stringify(value)}`;
      break;
    }
    case 'remove': {
      const name = pickName();
      delete header[name];
      desc = `remove tensor ${JSON.stringify(name)}`;
      break;
    }
    case 'metadata': {
      const value = rng.pick<unknown>([null, [], { a: 1 }, 'x', { k: 'v\nw' }, { nested: { a: 'b' } }, {}, { ['\n']: '' }, 0]);
      header.__metadata__ = value;
      desc = `__metadata__ -> ${JSON.stringify(value)}`;
      break;
    }
    case 'whole': {
      const depth = rng.small(100000);
      text = rng.pick(['[]', '"x"', '1', 'null', '{}', '{"a":1}', '['.repeat(depth) + ']'.repeat(depth), `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`, '{"a":{"dtype":"U8"}}']);
      desc = `whole header -> ${text.slice(0, 30)}${text.length > 30 ? `... (${text.length} chars)` : ''}`;
      break;
    }
    case 'duplicate-key': {
      const name = pickName();
      const copy = { ...entry(name) };
      if (rng.chance(0.5)) copy.data_offsets = [0, 0];
      const body = JSON.stringify(header);
      text = `{${JSON.stringify(name)}:${JSON.stringify(copy)},${body.slice(1)}`;
      desc = `duplicate key ${JSON.stringify(name)}`;
      break;
    }
    case 'number-text': {
      const body = JSON.stringify(header);
      const numbers = [...body.matchAll(/(?<=[[,:])\d+(?=[\],}])/g)];
      if (numbers.length === 0) {
        text = body;
        desc = 'number text (no number)';
        break;
      }
      const m = rng.pick(numbers);
      const value = rng.pick(['1e400', '-0', '00012', `${m[0]}.0`, '18446744073709551616', '9007199254740993', '1e3', '-1', '0.5', `${m[0]}e0`]);
      text = body.slice(0, m.index) + value + body.slice(m.index! + m[0].length);
      desc = `number ${m[0]} at ${m.index} -> ${value}`;
      break;
    }
    case 'reorder': {
      const entries = Object.entries(header).reverse();
      text = JSON.stringify(Object.fromEntries(entries));
      desc = 'entries reversed';
      break;
    }
    case 'deep': {
      // A value nested thousands deep where the parser (or its error message) may recurse.
      const name = pickName();
      const e = entry(name);
      const where = rng.pick(['shape', 'shape[0]', 'data_offsets', 'data_offsets[0]', 'dtype', 'extra', 'metadata'] as const);
      if (where === 'shape') e.shape = DEEP;
      else if (where === 'shape[0]') e.shape = [DEEP];
      else if (where === 'data_offsets') e.data_offsets = DEEP;
      else if (where === 'data_offsets[0]') e.data_offsets = [DEEP, 0];
      else if (where === 'dtype') e.dtype = DEEP;
      else if (where === 'extra') e.extra = DEEP;
      else header.__metadata__ = { deep: DEEP };
      const depth = rng.pick([1000, 10_000, 100_000, 1_000_000]);
      const kind = rng.pick(['[', '{"a":'] as const);
      const deep = kind === '[' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      text = JSON.stringify(header).replace(`"${DEEP}"`, () => deep);
      desc = `${where} of ${JSON.stringify(name)} -> ${kind === '[' ? 'arrays' : 'objects'} nested ${depth} deep`;
      break;
    }
    default: {
      const count = rng.small(20000);
      for (let i = 0; i < count; i++) header[`t${i}`] = { dtype: 'U8', shape: [0], data_offsets: [0, 0] };
      desc = `${count} empty tensors added`;
      break;
    }
  }
  text ??= JSON.stringify(header);
  const { bytes, note } = write(rng, text, data, oldLength);
  return { bytes, desc: `header edit: ${desc}${note}` };
}
