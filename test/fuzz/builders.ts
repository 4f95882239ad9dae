/**
 * Small hand-made inputs for the fuzzer: a zip writer (stored entries, as torch.save writes them,
 * or plainer), a pickle writer with the opcodes torch uses and more, and a safetensors file with
 * awkward names, gaps and trailing bytes.
 */

// ---------------------------------------------------------------------------------------------
// zip

export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Sizes in a data descriptor after the data (flag bit 3), as torch writes them. */
  descriptor?: boolean;
  /** Pad the local header with an "FB" extra field so that the data starts at a multiple of 64. */
  align64?: boolean;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of bytes) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

class Out {
  private parts: number[] = [];
  get length(): number {
    return this.parts.length;
  }
  u8(...v: number[]): this {
    for (const b of v) this.parts.push(b & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v, v >>> 8);
  }
  u32(v: number): this {
    return this.u8(v, v >>> 8, v >>> 16, v >>> 24);
  }
  u64(v: number | bigint): this {
    let x = BigInt(v);
    for (let i = 0; i < 8; i++) {
      this.parts.push(Number(x & 0xffn));
      x >>= 8n;
    }
    return this;
  }
  bytes(b: Uint8Array | readonly number[]): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  result(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function buildZip(inputs: readonly ZipInput[], opts: { zip64?: boolean; comment?: string } = {}): Uint8Array {
  const out = new Out();
  const central = new Out();
  const utf8 = new TextEncoder();
  for (const e of inputs) {
    const name = utf8.encode(e.name);
    const crc = crc32(e.data);
    const flags = (e.descriptor ? 8 : 0) | 0x800;
    const offset = out.length;
    let extra: number[] = [];
    if (e.align64) {
      const base = offset + 30 + name.length + 4;
      const pad = (64 - (base % 64)) % 64;
      extra = [0x46, 0x42, pad & 0xff, pad >> 8, ...new Array<number>(pad).fill(0x5a)];
    }
    out.u32(0x04034b50).u16(e.descriptor ? 0 : 20).u16(flags).u16(0).u16(0).u16(0);
    out.u32(e.descriptor ? 0 : crc).u32(e.descriptor ? 0 : e.data.length).u32(e.descriptor ? 0 : e.data.length);
    out.u16(name.length).u16(extra.length).bytes(name).bytes(extra).bytes(e.data);
    if (e.descriptor) out.u32(0x08074b50).u32(crc).u32(e.data.length).u32(e.data.length);
    central.u32(0x02014b50).u16(0x31e).u16(e.descriptor ? 45 : 20).u16(flags).u16(0).u16(0).u16(0);
    central.u32(crc).u32(e.data.length).u32(e.data.length).u16(name.length).u16(0).u16(0).u16(0).u16(0).u32(0).u32(offset);
    central.bytes(name);
  }
  const cdOffset = out.length;
  const cd = central.result();
  out.bytes(cd);
  const count = inputs.length;
  if (opts.zip64) {
    const record = out.length;
    out.u32(0x06064b50).u64(44).u16(0x31e).u16(45).u32(0).u32(0).u64(count).u64(count).u64(cd.length).u64(cdOffset);
    out.u32(0x07064b50).u32(0).u64(record).u32(1);
  }
  const comment = utf8.encode(opts.comment ?? '');
  out.u32(0x06054b50).u16(0).u16(0).u16(count).u16(count).u32(cd.length).u32(cdOffset).u16(comment.length).bytes(comment);
  return out.result();
}

// ---------------------------------------------------------------------------------------------
// pickle

/** Emits pickle opcodes; `memo` numbering follows BINPUT / MEMOIZE as Python's pickler does. */
export class PickleOut {
  private readonly out = new Out();
  private memo = 0;
  private readonly globals = new Map<string, number>();
  constructor(readonly protocol: 0 | 2 | 4) {}

  op(...bytes: number[]): this {
    this.out.u8(...bytes);
    return this;
  }
  text(s: string): this {
    this.out.bytes(new TextEncoder().encode(s));
    return this;
  }
  put(): number {
    const id = this.memo++;
    if (this.protocol >= 4) this.op(0x94);
    else if (this.protocol === 0) this.text(`p${id}\n`);
    else if (id < 256) this.op(0x71, id);
    else this.op(0x72).out.u32(id);
    return id;
  }
  get(id: number): this {
    if (this.protocol === 0) return this.text(`g${id}\n`);
    if (id < 256) return this.op(0x68, id);
    this.op(0x6a).out.u32(id);
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    if (this.protocol >= 4 && b.length < 256) this.op(0x8c, b.length).out.bytes(b);
    else this.op(0x58).out.u32(b.length).bytes(b);
    this.put();
    return this;
  }
  int(n: number): this {
    if (this.protocol === 0) return this.text(`I${n}\n`);
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    if (n >= 0 && n < 65536) return this.op(0x4d).op(n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) {
      this.op(0x4a).out.u32(n >>> 0);
      return this;
    }
    return this.long(BigInt(n));
  }
  long(n: bigint): this {
    if (this.protocol === 0) return this.text(`L${n}L\n`);
    const bytes: number[] = [];
    let v = n;
    do {
      bytes.push(Number(BigInt.asUintN(8, v)));
      v >>= 8n;
    } while (!(v === 0n && (bytes[bytes.length - 1]! & 0x80) === 0) && !(v === -1n && (bytes[bytes.length - 1]! & 0x80) !== 0));
    return this.op(0x8a, bytes.length, ...bytes);
  }
  float(x: number): this {
    if (this.protocol === 0) return this.text(`F${x}\n`);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    return this.op(0x47, ...b);
  }
  global(name: string): this {
    const known = this.globals.get(name);
    if (known !== undefined) return this.get(known);
    const dot = name.lastIndexOf('.');
    if (this.protocol >= 4) {
      this.str(name.slice(0, dot));
      this.str(name.slice(dot + 1));
      this.op(0x93);
    } else {
      this.op(0x63).text(`${name.slice(0, dot)}\n${name.slice(dot + 1)}\n`);
    }
    this.globals.set(name, this.put());
    return this;
  }
  /** A tuple of what `items` pushes (count known up front for TUPLE1-3). */
  tuple(count: number, items: () => void): this {
    if (count === 0) return this.op(0x29);
    if (count <= 3 && this.protocol >= 2) {
      items();
      this.op(0x84 + count);
    } else {
      this.op(0x28);
      items();
      this.op(0x74);
    }
    this.put();
    return this;
  }
  ints(xs: readonly number[]): this {
    return this.tuple(xs.length, () => xs.forEach((x) => this.int(x)));
  }
  /** torch._utils._rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict()) (v3 with a dtype). */
  tensor(storage: string, key: string, numel: number, shape: readonly number[], offset = 0, dtype?: string): this {
    this.global(dtype ? 'torch._utils._rebuild_tensor_v3' : 'torch._utils._rebuild_tensor_v2');
    const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    this.op(0x28);
    this.op(0x28);
    this.str('storage');
    this.global(storage.includes('.') ? storage : `torch.${storage}`);
    this.str(key);
    this.str('cpu');
    this.int(numel);
    this.op(0x74);
    this.put();
    this.op(0x51);
    this.int(offset);
    this.ints(shape);
    this.ints(strides);
    this.op(0x89);
    this.global('collections.OrderedDict').op(0x29).op(0x52);
    this.put();
    if (dtype) this.global(`torch.${dtype}`);
    this.op(0x74);
    this.put();
    this.op(0x52);
    this.put();
    return this;
  }
  /** A dict with the given items pushed in pairs by `pairs`, with SETITEMS. */
  dict(pairs: () => void): this {
    this.op(0x7d);
    this.put();
    this.op(0x28);
    pairs();
    this.op(0x75);
    return this;
  }
  finish(): Uint8Array {
    this.op(0x2e);
    const body = this.out.result();
    const head = this.protocol === 0 ? [] : [0x80, this.protocol];
    if (this.protocol >= 4) {
      const frame = new Out().u8(0x95).u64(body.length).result();
      head.push(...frame);
    }
    return Uint8Array.from([...head, ...body]);
  }
}

/** Storage keys and byte sizes the hand-made checkpoint pickle refers to. */
export const HAND_STORAGES: readonly (readonly [string, number])[] = [
  ['0', 24], ['1', 6], ['2', 32], ['3', 8], ['4', 8], ['5', 16], ['6', 10], ['7', 16], ['8', 12],
];

/** A torch.save-like checkpoint pickle: state dict, optimizer state, a parameter, a v3 tensor, odd objects. */
export function handCheckpointPickle(protocol: 2 | 4): Uint8Array {
  const p = new PickleOut(protocol);
  p.dict(() => {
    p.str('model');
    p.global('collections.OrderedDict').op(0x29).op(0x52);
    p.put();
    p.op(0x28);
    p.str('layer.weight').tensor('FloatStorage', '0', 6, [2, 3]);
    p.str('layer.bias').tensor('HalfStorage', '1', 3, [3]);
    p.str('bn.num_batches_tracked').tensor('LongStorage', '4', 1, []);
    p.op(0x75);
    p.str('shared_a').tensor('FloatStorage', '2', 8, [4]);
    p.str('shared_z').tensor('FloatStorage', '2', 8, [2, 2], 4);
    p.str('optimizer');
    p.dict(() => {
      p.str('state');
      p.dict(() => {
        p.int(0);
        p.dict(() => {
          p.str('momentum_buffer').tensor('BFloat16Storage', '3', 4, [4]);
          p.str('step').float(12);
        });
      });
      p.str('param_groups');
      p.op(0x5d);
      p.put();
      p.op(0x28);
      p.dict(() => {
        p.str('lr').float(0.1);
        p.str('params');
        p.op(0x5d);
        p.put();
        p.int(0).op(0x61);
        p.str('nesterov').op(0x89);
      });
      p.op(0x65);
    });
    p.str('param');
    p.global('torch._utils._rebuild_parameter');
    p.op(0x28);
    p.tensor('DoubleStorage', '5', 2, [2]);
    p.op(0x88);
    p.global('collections.OrderedDict').op(0x29).op(0x52);
    p.put();
    p.op(0x74);
    p.put();
    p.op(0x52);
    p.put();
    p.str('u16').tensor('torch.storage.UntypedStorage', '6', 10, [5], 0, 'uint16');
    p.str('mismatch').tensor('FloatStorage', '7', 5, [5]); // declares 20 bytes, the entry has 16
    p.str('complex').tensor('ComplexFloatStorage', '8', 3, [3]); // unknown dtype
    p.str('misc');
    p.tuple(3, () => {
      p.op(0x4e);
      p.long(2n ** 70n);
      p.op(0x43, 3, 1, 2, 3);
      p.put();
    });
    p.str('ns');
    p.global('argparse.Namespace').op(0x29).op(0x81);
    p.put();
    p.dict(() => {
      p.str('epochs').int(-7);
      p.str('big').int(100000);
    });
    p.op(0x62);
    p.str('set');
    p.op(0x8f);
    p.put();
    p.op(0x28).int(1).int(2).op(0x90);
    p.str('frozen');
    p.op(0x28).str('a').op(0x91);
    p.put();
    p.int(3);
    p.str('int key');
  });
  return p.finish();
}

/** Protocol 0/1 text opcodes: INT, LONG, FLOAT, PUT/GET, GLOBAL, INST, OBJ, PERSID, DICT, LIST, TUPLE. */
export function textOpcodesPickle(): Uint8Array {
  const p = new PickleOut(0);
  p.op(0x28); // MARK for DICT
  p.op(0x55, 1).text('a'); // SHORT_BINSTRING
  p.int(12345678);
  p.op(0x55, 1).text('b');
  p.long(-(2n ** 80n));
  p.op(0x55, 1).text('c');
  p.float(-1.5e-7);
  p.op(0x55, 1).text('d');
  p.op(0x28).int(1).int(2).op(0x6c); // LIST
  p.put();
  p.op(0x55, 1).text('e');
  p.op(0x28).op(0x69).text('collections\nOrderedDict\n'); // INST
  p.put();
  p.op(0x55, 1).text('f');
  p.op(0x28).op(0x63).text('builtins\nobject\n').op(0x6f); // OBJ
  p.op(0x55, 1).text('g');
  p.text('P1234\n'); // PERSID
  p.op(0x55, 1).text('h');
  p.get(0);
  p.op(0x55, 1).text('i');
  p.op(0x28).int(1).op(0x74); // TUPLE
  p.op(0x64); // DICT
  p.put();
  return p.finish();
}

/** A torch-style archive around a pickle: `<prefix>/data.pkl`, `data/<key>` storages, `version`. */
export function torchZip(
  pickle: Uint8Array,
  storages: readonly (readonly [string, number])[],
  opts: { prefix?: string; torchStyle?: boolean; comment?: string } = {},
): Uint8Array {
  const prefix = opts.prefix ?? 'archive';
  const style = opts.torchStyle ?? false;
  const bytesOf = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + ((i * i) >> 3)) & 0xff);
  return buildZip(
    [
      { name: `${prefix}/data.pkl`, data: pickle, descriptor: style, align64: style },
      ...storages.map(([key, n], i): ZipInput => ({ name: `${prefix}/data/${key}`, data: bytesOf(n, i), descriptor: style, align64: style })),
      { name: `${prefix}/version`, data: new TextEncoder().encode('3\n'), descriptor: style, align64: style },
    ],
    { zip64: style, comment: opts.comment },
  );
}

// ---------------------------------------------------------------------------------------------
// safetensors

/** A safetensors file from a header object and data, padded like the official writer. */
export function safetensorsFile(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

/**
 * Awkward but valid: names with a newline, quotes, non-ASCII and an empty name, an unknown dtype,
 * an empty tensor, a gap between tensors, trailing bytes and metadata.
 */
export function oddSafetensors(): Uint8Array {
  const floats = (n: number, seed: number): Uint8Array => {
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = Math.sin(i * 0.37 + seed) * 0.05;
    return new Uint8Array(f.buffer);
  };
  const bf16 = (n: number, seed: number): Uint8Array => {
    const f = floats(n, seed);
    const out = new Uint8Array(n * 2);
    for (let i = 0; i < n; i++) {
      out[2 * i] = f[4 * i + 2]!;
      out[2 * i + 1] = f[4 * i + 3]!;
    }
    return out;
  };
  const parts: [string, string, number[], Uint8Array][] = [
    ['layer\nweight', 'BF16', [64, 40], bf16(2560, 1)],
    ['say "hi"', 'F32', [1000], floats(1000, 2)],
    ['ünïcödé.bias', 'F32', [3], floats(3, 3)],
    ['', 'U8', [5], Uint8Array.of(1, 2, 3, 4, 5)],
    ['empty', 'F16', [0, 7], new Uint8Array(0)],
    ['steps', 'I64', [2], Uint8Array.of(6, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)],
    ['weird', 'F4', [7], Uint8Array.of(9, 8, 7, 6, 5, 4, 3)],
  ];
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', 'note\n': 'line one\nline two' } };
  const data: Uint8Array[] = [];
  let at = 0;
  for (const [i, [name, dtype, shape, bytes]] of parts.entries()) {
    if (i === 2) {
      data.push(Uint8Array.of(0xde, 0xad, 0xbe)); // a gap
      at += 3;
    }
    header[name] = { dtype, shape, data_offsets: [at, at + bytes.length] };
    data.push(bytes);
    at += bytes.length;
  }
  data.push(new TextEncoder().encode('trailing bytes'));
  const all = new Uint8Array(data.reduce((n, d) => n + d.length, 0));
  let p = 0;
  for (const d of data) {
    all.set(d, p);
    p += d.length;
  }
  return safetensorsFile(header, all);
}
