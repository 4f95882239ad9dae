/**
 * Structure-aware pickle mutations: replace an opcode, insert random opcode sequences at opcode
 * boundaries, duplicate runs of opcodes, and wrap the whole pickle's value in hostile structures
 * (shared-reference bombs as dict keys or values, deep nesting, deep MARKs, wide lists at depth).
 */
import type { Mutation } from './mutate.js';
import type { Rng } from './prng.js';
import { disassemble, PICKLE_ARGS } from './shapes.js';

const OPCODES = [...PICKLE_ARGS.keys()];

class Ops {
  readonly out: number[] = [];
  op(...b: number[]): this {
    for (const x of b) this.out.push(x & 0xff);
    return this;
  }
  bytes(b: Uint8Array): this {
    for (const x of b) this.out.push(x);
    return this;
  }
  u32(v: number): this {
    return this.op(v, v >>> 8, v >>> 16, v >>> 24);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    if (b.length < 256) this.op(0x8c, b.length).bytes(b);
    else this.op(0x58).u32(b.length).bytes(b);
    return this;
  }
  /** LONG_BINPUT / LONG_BINGET with keys far above anything the original pickle uses. */
  put(k: number): this {
    return this.op(0x72).u32(0x7fff0000 + k);
  }
  get(k: number): this {
    return this.op(0x6a).u32(0x7fff0000 + k);
  }
}

/** A random opcode with a plausible argument. */
function randomOp(rng: Rng, o: Ops): void {
  const op = rng.chance(0.9) ? rng.pick(OPCODES) : rng.byte();
  const arg = PICKLE_ARGS.get(op);
  o.op(op);
  switch (arg) {
    case 'u1': o.op(rng.chance(0.5) ? rng.int(4) : rng.byte()); break;
    case 'u2': o.op(rng.byte(), rng.byte()); break;
    case 'u4': case 'i4': o.u32(rng.chance(0.5) ? rng.int(8) : rng.int(2 ** 32)); break;
    case 'u8': case 'f8': for (let i = 0; i < 8; i++) o.op(i === 0 || rng.chance(0.1) ? rng.byte() : 0); break;
    case 'line': o.op(...new TextEncoder().encode(rng.pick(['0', '1', '01', '-5', '3.5', 'nan', '123L', 'x', '99999999999999999999', '']) + '\n')); break;
    case 'lines2': o.op(...new TextEncoder().encode(rng.pick(['torch\nFloatStorage\n', 'collections\nOrderedDict\n', 'torch._utils\n_rebuild_tensor_v2\n', 'a\nb\n']))); break;
    case 'len1': { const n = rng.int(8); o.op(n); for (let i = 0; i < n; i++) o.op(0x61 + rng.int(26)); break; }
    case 'len4': case 'ilen4': { const n = rng.int(8); o.u32(n); for (let i = 0; i < n; i++) o.op(0x61 + rng.int(26)); break; }
    case 'len8': { const n = rng.int(8); o.u32(n).u32(0); for (let i = 0; i < n; i++) o.op(0x61 + rng.int(26)); break; }
    default: break;
  }
}

/** The opcodes of a pickle between its PROTO/FRAME header and its STOP: they push the root value. */
function body(data: Uint8Array): Uint8Array {
  const ops = disassemble(data);
  let start = 0;
  for (const o of ops) {
    if (o.op === 0x80 || o.op === 0x95) start = o.end;
    else break;
  }
  const stop = ops.find((o) => o.op === 0x2e);
  return data.subarray(start, stop ? stop.at : data.length);
}

/** Pushes a tuple nested `depth` deep, each level `width` references to the one below (memo key 1). */
function sharedBomb(o: Ops, width: number, depth: number): void {
  o.op(0x29).put(1).op(0x30);
  for (let d = 0; d < depth; d++) {
    o.op(0x28);
    for (let i = 0; i < width; i++) o.get(1);
    o.op(0x74).put(1).op(0x30);
  }
  o.get(1);
}

/** The original root value R (memo key 0) inside a hostile structure. */
function wrap(rng: Rng, data: Uint8Array): { ops: Ops; desc: string } {
  const o = new Ops().op(0x80, 2);
  o.bytes(body(data)).put(0).op(0x30);
  const kind = rng.pick(['key-bomb', 'value-bomb', 'deep-list', 'deep-mark', 'wide-at-depth', 'long-key', 'shared-root', 'deep-dict-keys'] as const);
  let desc: string = kind;
  switch (kind) {
    case 'key-bomb': {
      // Its name is built from the key: up to width^9 pieces. Mostly small (fast whatever the
      // reader does); 1 in 50 large enough that a reader expanding it blows the time bound.
      const cap = rng.chance(0.02) ? 2e7 : 2e5;
      const w = rng.range(2, 12);
      let d = rng.range(2, 12);
      while (d > 1 && w ** Math.min(d, 9) > cap) d--;
      o.op(0x7d);
      sharedBomb(o, w, d);
      o.get(0).op(0x73);
      desc = `{tuple bomb (width ${w}, depth ${d}) as key: root}`;
      break;
    }
    case 'value-bomb': {
      const w = rng.range(2, 64);
      const d = rng.range(2, 40);
      o.op(0x7d).str('root').get(0).op(0x73).str('bomb');
      sharedBomb(o, w, d);
      o.op(0x73);
      desc = `{root, bomb: tuple bomb (width ${w}, depth ${d})}`;
      break;
    }
    case 'deep-list': {
      const k = rng.range(100, 1200);
      for (let i = 0; i < k; i++) o.op(0x5d);
      o.get(0);
      for (let i = 0; i < k; i++) o.op(0x61);
      desc = `root nested in ${k} lists`;
      break;
    }
    case 'deep-mark': {
      const k = rng.range(1000, 12000);
      for (let i = 0; i < k; i++) o.op(0x28);
      o.get(0);
      for (let i = 0; i < k; i++) o.op(0x6c);
      desc = `root inside ${k} MARK/LIST pairs`;
      break;
    }
    case 'wide-at-depth': {
      const k = rng.range(100, 990);
      const width = rng.small(30000);
      for (let i = 0; i < k; i++) o.op(0x5d);
      o.op(0x28);
      for (let i = 0; i < width; i++) o.op(0x5d);
      o.get(0).op(0x65);
      for (let i = 1; i < k; i++) o.op(0x61);
      desc = `${width} lists and root at depth ${k}`;
      break;
    }
    case 'long-key': {
      const n = rng.small(1 << 20);
      o.op(0x7d).op(0x58).u32(n);
      for (let i = 0; i < n; i++) o.op(0x61 + (i % 26));
      o.get(0).op(0x73);
      desc = `{${n}-character key: root}`;
      break;
    }
    case 'shared-root': {
      const n = rng.small(5000);
      o.op(0x7d).op(0x28);
      for (let i = 0; i < n; i++) o.str(`k${i}`).get(0);
      o.op(0x75);
      desc = `root shared under ${n} keys`;
      break;
    }
    default: {
      // Dict keys that are tuples of tuples (names built from them), root as the value.
      const d = rng.range(1, 12);
      o.op(0x7d).op(0x4b, 1);
      for (let i = 0; i < d; i++) o.op(0x4b, i).op(0x86);
      o.get(0).op(0x73);
      desc = `{tuple key nested ${d} deep: root}`;
      break;
    }
  }
  o.op(0x2e);
  return { ops: o, desc: `wrap: ${desc}` };
}

export function pickleEdit(rng: Rng, data: Uint8Array): Mutation {
  const ops = disassemble(data);
  const boundary = (): number => (ops.length ? rng.pick(ops).at : 0);
  const action = rng.weighted<string>([
    [3, 'replace'],
    [3, 'insert'],
    [1, 'duplicate'],
    [2, 'wrap'],
  ]);
  if (action === 'wrap') {
    const { ops: o, desc } = wrap(rng, data);
    return { bytes: Uint8Array.from(o.out), desc };
  }
  if (action === 'replace' && ops.length) {
    const o = rng.pick(ops);
    const out = new Uint8Array(data);
    const op = rng.chance(0.9) ? rng.pick(OPCODES) : rng.byte();
    out[o.at] = op;
    return { bytes: out, desc: `opcode at ${o.at}: 0x${o.op.toString(16)} -> 0x${op.toString(16)}` };
  }
  if (action === 'duplicate' && ops.length > 1) {
    const i = rng.int(ops.length);
    const j = Math.min(ops.length - 1, i + rng.small(32));
    const run = data.subarray(ops[i]!.at, ops[j]!.end);
    const at = boundary();
    const out = new Uint8Array(data.length + run.length);
    out.set(data.subarray(0, at), 0);
    out.set(run, at);
    out.set(data.subarray(at), at + run.length);
    return { bytes: out, desc: `opcodes [${ops[i]!.at}, ${ops[j]!.end}) copied to ${at}` };
  }
  const o = new Ops();
  const count = rng.small(24);
  for (let i = 0; i < count; i++) randomOp(rng, o);
  const at = boundary();
  const out = new Uint8Array(data.length + o.out.length);
  out.set(data.subarray(0, at), 0);
  out.set(o.out, at);
  out.set(data.subarray(at), at + o.out.length);
  return { bytes: out, desc: `${count} random opcodes (${o.out.length} bytes) inserted at ${at}` };
}
