import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MithrilError } from '../src/errors.js';
import type { Layout, TensorSegment } from '../src/formats/layout.js';
import { parsePickle } from '../src/formats/pickle/machine.js';
import type { PickleValue } from '../src/formats/pickle/values.js';
import { readTorchPickle } from '../src/formats/torch-pickle.js';
import {
  LEGACY_TORCH_PROBLEM,
  looksLikeLegacyTorch,
  looksLikeTorchZip,
  readTorchCheckpoint,
  readTorchLayout,
} from '../src/formats/torch.js';
import { readZipArchive, readZipEntries } from '../src/formats/zip.js';
import { BufferSource, type ByteSource } from '../src/io/source.js';
import { PickleOut } from './fuzz/builders.js';

const FIXTURES = new URL('../../fixtures/', import.meta.url);
const readFixture = (name: string): Buffer => readFileSync(fileURLToPath(new URL(name, FIXTURES)));

// ---------------------------------------------------------------------------------------------
// A tiny pickle writer: values in, protocol 2 (GLOBAL, BINPUT/BINGET) or 4 (FRAME, STACK_GLOBAL,
// SHORT_BINUNICODE, MEMOIZE) opcodes out, the way Python's pickler and torch.save write them.

type V =
  | null
  | boolean
  | number
  | string
  | { float: number }
  | { long: bigint }
  | { bytes: Uint8Array }
  | { list: V[] }
  | { tuple: V[] }
  | { dict: [V, V][] }
  | { odict: [V, V][] } // collections.OrderedDict, as REDUCE + SETITEMS
  | { tensor: Tensor }
  | { param: Tensor } // torch._utils._rebuild_parameter(tensor, True, OrderedDict())
  | { global: string }
  | { call: string; args: V[]; state?: V }; // REDUCE (+ BUILD)

interface Tensor {
  storage: string; // storage type, e.g. "FloatStorage" (module torch) or "torch.storage.UntypedStorage"
  key: string;
  numel: number;
  offset?: number;
  shape: number[];
  dtype?: string; // _rebuild_tensor_v3's dtype, e.g. "uint16"
}

/** Writes a value tree as a pickle, with the opcode writer the fuzzer uses (test/fuzz/builders.ts). */
class PickleWriter {
  private p = new PickleOut(2);
  constructor(private readonly protocol: 2 | 4) {}

  write(v: V): Uint8Array {
    this.p = new PickleOut(this.protocol);
    this.value(v);
    return this.p.finish();
  }

  private tuple(items: V[]): void {
    this.p.tuple(items.length, () => items.forEach((x) => this.value(x)));
  }
  private tensor(t: Tensor): void {
    this.p.tensor(t.storage, t.key, t.numel, t.shape, t.offset ?? 0, t.dtype);
  }
  private items(pairs: [V, V][]): void {
    if (pairs.length === 0) return;
    this.p.op(0x28);
    for (const [k, v] of pairs) {
      this.value(k);
      this.value(v);
    }
    this.p.op(0x75);
  }

  value(v: V): void {
    if (v === null) return void this.p.op(0x4e);
    if (v === true) return void this.p.op(0x88);
    if (v === false) return void this.p.op(0x89);
    if (typeof v === 'number') return void this.p.int(v);
    if (typeof v === 'string') return void this.p.str(v);
    if ('float' in v) {
      this.p.float(v.float);
      return;
    }
    if ('long' in v) return void this.p.long(v.long);
    if ('bytes' in v) {
      this.p.op(0x43, v.bytes.length, ...v.bytes);
      this.p.put();
      return;
    }
    if ('list' in v) {
      this.p.op(0x5d);
      this.p.put();
      if (v.list.length > 0) {
        this.p.op(0x28);
        for (const x of v.list) this.value(x);
        this.p.op(0x65);
      }
      return;
    }
    if ('tuple' in v) return this.tuple(v.tuple);
    if ('dict' in v) {
      this.p.op(0x7d);
      this.p.put();
      return this.items(v.dict);
    }
    if ('odict' in v) {
      this.value({ call: 'collections.OrderedDict', args: [] });
      return this.items(v.odict);
    }
    if ('tensor' in v) return this.tensor(v.tensor);
    if ('param' in v) {
      this.p.global('torch._utils._rebuild_parameter');
      this.p.op(0x28);
      this.tensor(v.param);
      this.p.op(0x88);
      this.value({ call: 'collections.OrderedDict', args: [] });
      this.p.op(0x74);
      this.p.put();
      this.p.op(0x52);
      this.p.put();
      return;
    }
    if ('global' in v) return void this.p.global(v.global);
    this.p.global(v.call);
    this.tuple(v.args);
    this.p.op(0x52);
    this.p.put();
    if (v.state !== undefined) {
      this.value(v.state);
      this.p.op(0x62);
    }
  }
}

function le(v: bigint, bytes: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) out.push(Number((v >> BigInt(8 * i)) & 0xffn));
  return out;
}

// ---------------------------------------------------------------------------------------------
// A tiny zip writer: stored entries, no alignment padding unless asked, data descriptors
// optional, ZIP64 records where needed (or forced). Data may be virtual (zeros, never allocated),
// for archives over 4 GiB read through a ByteSource that synthesises them.

interface ZipInput {
  name: string;
  data?: Uint8Array;
  /** Virtual zeros of this size instead of data. */
  size?: number;
  method?: number;
  descriptor?: boolean;
  /** Bytes of "FB" extra field padding in the local header (torch pads data to 64 bytes this way). */
  pad?: number;
}

interface Piece {
  offset: number;
  bytes: Uint8Array;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const u16 = (n: number): number[] => le(BigInt(n), 2);
const u32 = (n: number): number[] => le(BigInt(n), 4);
const u64 = (n: number): number[] => le(BigInt(n), 8);
const MAX32 = 0xffffffff;

function buildZipPieces(inputs: ZipInput[], opts: { zip64?: boolean; comment?: string } = {}): { pieces: Piece[]; size: number } {
  const pieces: Piece[] = [];
  let offset = 0;
  const emit = (bytes: number[] | Uint8Array): void => {
    const b = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
    pieces.push({ offset, bytes: b });
    offset += b.length;
  };
  const central: number[] = [];
  let needZip64 = opts.zip64 ?? false;
  for (const e of inputs) {
    const name = Buffer.from(e.name);
    const size = e.data ? e.data.length : (e.size ?? 0);
    const crc = e.data ? crc32(e.data) : 0;
    const method = e.method ?? 0;
    const flags = (e.descriptor ? 8 : 0) | 0x800;
    const big = size >= MAX32;
    const lho = offset;
    const farOffset = lho >= MAX32;
    needZip64 ||= big || farOffset;
    const localExtra: number[] = [];
    if (big && !e.descriptor) localExtra.push(...u16(1), ...u16(16), ...u64(size), ...u64(size));
    if (e.pad) localExtra.push(0x46, 0x42, ...u16(e.pad), ...new Array<number>(e.pad).fill(0x5a));
    const localSize = e.descriptor ? 0 : big ? MAX32 : size;
    emit([
      ...u32(0x04034b50), ...u16(big ? 45 : 20), ...u16(flags), ...u16(method), ...u16(0), ...u16(0),
      ...u32(e.descriptor ? 0 : crc), ...u32(localSize), ...u32(localSize), ...u16(name.length), ...u16(localExtra.length),
      ...name, ...localExtra,
    ]);
    if (e.data) emit(e.data);
    else offset += size;
    if (e.descriptor) emit([...u32(0x08074b50), ...u32(crc), ...(big ? [...u64(size), ...u64(size)] : [...u32(size), ...u32(size)])]);
    const extra: number[] = [];
    if (big) extra.push(...u64(size), ...u64(size));
    if (farOffset) extra.push(...u64(lho));
    const cextra = extra.length > 0 ? [...u16(1), ...u16(extra.length), ...extra] : [];
    central.push(
      ...u32(0x02014b50), ...u16(45), ...u16(big ? 45 : 20), ...u16(flags), ...u16(method), ...u16(0), ...u16(0),
      ...u32(crc), ...u32(big ? MAX32 : size), ...u32(big ? MAX32 : size), ...u16(name.length), ...u16(cextra.length),
      ...u16(0), ...u16(0), ...u16(0), ...u32(0), ...u32(farOffset ? MAX32 : lho), ...name, ...cextra,
    );
  }
  const cdOffset = offset;
  emit(central);
  const count = inputs.length;
  needZip64 ||= cdOffset >= MAX32;
  if (needZip64) {
    const record = offset;
    emit([
      ...u32(0x06064b50), ...u64(44), ...u16(45), ...u16(45), ...u32(0), ...u32(0), ...u64(count), ...u64(count),
      ...u64(central.length), ...u64(cdOffset),
    ]);
    emit([...u32(0x07064b50), ...u32(0), ...u64(record), ...u32(1)]);
  }
  const comment = Buffer.from(opts.comment ?? '');
  emit([
    ...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(Math.min(count, 0xffff)), ...u16(Math.min(count, 0xffff)),
    ...u32(central.length), ...u32(cdOffset >= MAX32 ? MAX32 : cdOffset), ...u16(comment.length), ...comment,
  ]);
  return { pieces, size: offset };
}

function buildZip(inputs: ZipInput[], opts: { zip64?: boolean; comment?: string } = {}): Buffer {
  const { pieces, size } = buildZipPieces(inputs, opts);
  const out = Buffer.alloc(size);
  for (const p of pieces) out.set(p.bytes, p.offset);
  return out;
}

/** A ByteSource for a file that is mostly zeros, holding only its non-zero pieces in memory. */
class VirtualSource implements ByteSource {
  constructor(
    private readonly pieces: Piece[],
    readonly size: number,
    readonly name = 'virtual.pt',
  ) {}
  async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) throw new MithrilError(this.name, `read past end (${offset}+${length})`, 'TRUNCATED');
    assert.ok(length <= 1 << 24, `the reader asked for ${length} bytes at once`);
    const out = into ? into.subarray(0, length) : new Uint8Array(length);
    out.fill(0);
    for (const p of this.pieces) {
      const a = Math.max(offset, p.offset);
      const b = Math.min(offset + length, p.offset + p.bytes.length);
      if (a < b) out.set(p.bytes.subarray(a - p.offset, b - p.offset), a - offset);
    }
    return out;
  }
  async checkUnchanged(): Promise<void> {}

  close(): void {}
}

// ---------------------------------------------------------------------------------------------

function assertCovers(layout: Layout, size: number): void {
  assert.equal(layout.size, size);
  let cursor = 0;
  for (const s of layout.segments) {
    assert.equal(s.offset, cursor, `segment ${JSON.stringify(s)} does not start where the previous one ended`);
    assert.ok(s.length >= 0);
    cursor += s.length;
  }
  assert.equal(cursor, size, 'segments do not reach the end of the file');
}

const tensorsOf = (layout: Layout): TensorSegment[] => layout.segments.filter((s): s is TensorSegment => s.kind === 'tensor');
const numel = (s: TensorSegment): number => s.shape.reduce((a, d) => a * d, 1);

async function expectMithrilError(fn: () => Promise<unknown>, pattern: RegExp, file = 'x.pt'): Promise<void> {
  await assert.rejects(fn, (error: unknown) => {
    assert.ok(error instanceof MithrilError, `not a MithrilError: ${String(error)}`);
    assert.equal(error.file, file);
    assert.match(error.problem, pattern);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
}

const bytesOf = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 0xff);

describe('torch.save checkpoint (real file)', async () => {
  const file = readFixture('cnn_train_epoch6.pt');
  const source = new BufferSource(file, 'cnn_train_epoch6.pt');
  const checkpoint = (await readTorchCheckpoint(source));
  const { layout } = checkpoint;
  const tensors = tensorsOf(layout);

  it('is recognised by its first bytes', () => {
    assert.ok(looksLikeTorchZip(file.subarray(0, 16)));
    assert.ok(!looksLikeLegacyTorch(file.subarray(0, 32)));
    assert.equal(layout.format, 'torch');
    assert.equal(checkpoint.prefix, 'cnn_train_epoch6');
    assert.equal(checkpoint.torchScript, false);
    assert.equal(checkpoint.pickleProblem, undefined);
  });

  it('zip entries: 87 stored, 64-byte aligned, all before the central directory', async () => {
    const archive = (await readZipArchive(source));
    assert.equal(archive.entries.length, 87);
    assert.ok(archive.zip64, 'torch writes ZIP64 end records');
    for (const e of archive.entries) {
      assert.equal(e.method, 0);
      assert.equal(e.dataOffset % 64, 0, e.name);
      assert.ok(e.dataOffset + e.size <= archive.directoryOffset);
    }
    const version = (await readZipEntries(source)).find((e) => e.name === 'cnn_train_epoch6/version');
    assert.ok(version);
    assert.equal(Buffer.from(file.subarray(version.dataOffset, version.dataOffset + version.size)).toString(), '3\n');
  });

  it('the layout covers every byte exactly once, in order', () => {
    assertCovers(layout, file.length);
    const roles = new Set(layout.segments.flatMap((s) => (s.kind === 'opaque' ? [s.role] : [])));
    assert.deepEqual([...roles].sort(), ['pickle', 'zip directory', 'zip header', 'zip record']);
  });

  it('85 storages: 76 F32 and 9 I64 (num_batches_tracked), named after their tensors', (t) => {
    assert.equal(tensors.length, 85);
    assert.equal(tensors.filter((s) => s.dtype === 'F32').length, 76);
    const longs = tensors.filter((s) => s.dtype === 'I64');
    assert.equal(longs.length, 9);
    for (const s of longs) {
      assert.match(s.name, /^model\..*num_batches_tracked$/);
      assert.deepEqual(s.shape, [], 'a 0-d tensor');
      assert.equal(s.length, 8);
    }
    assert.equal(new Set(tensors.map((s) => s.name)).size, 85, 'names are unique');
    assert.equal(tensors.filter((s) => s.name.startsWith('model.')).length, 56);
    const momentum = tensors.filter((s) => /^optimizer\.state\.\d+\.momentum_buffer$/.test(s.name));
    assert.equal(momentum.length, 29);
    const conv1 = tensors.find((s) => s.name === 'model.conv1.weight');
    // A storage that holds one whole tensor, row-major, takes its shape (chunks can then follow rows).
    assert.deepEqual(conv1 && { dtype: conv1.dtype, shape: conv1.shape, length: conv1.length }, { dtype: 'F32', shape: [32, 3, 3, 3], length: 3456 });
    for (const s of tensors) assert.equal(s.length, numel(s) * (s.dtype === 'I64' ? 8 : 4));
    t.diagnostic(`names: ${tensors.slice(0, 3).map((s) => s.name).join(', ')}, …, ${momentum[0].name}, …`);
  });

  it('every tensor segment is exactly one data/<key> entry, and the pickle knows its views', async () => {
    const entries = (await readZipEntries(source));
    const byOffset = new Map(entries.map((e) => [e.dataOffset, e]));
    for (const s of tensors) {
      const e = byOffset.get(s.offset);
      assert.ok(e && /^cnn_train_epoch6\/data\/\d+$/.test(e.name) && e.size === s.length, s.name);
      const storage = checkpoint.storages.get(e.name.split('/').pop() as string);
      assert.ok(storage);
      assert.equal(storage.names[0], s.name);
      assert.ok(storage.views.length >= 1);
    }
    const conv = [...checkpoint.storages.values()].find((s) => s.names[0] === 'model.layer1.conv1.weight');
    assert.deepEqual(conv?.views[0].shape, [32, 32, 3, 3]);
    assert.deepEqual(conv?.views[0].stride, [288, 9, 3, 1]);
  });

  it('the checkpoint one epoch earlier has the same tensor names (for delta pairing)', async () => {
    const base = (await readTorchLayout(new BufferSource(readFixture('cnn_train_epoch5.pt'), 'cnn_train_epoch5.pt')));
    assert.deepEqual(tensorsOf(base).map((s) => [s.name, s.dtype, s.length]), tensors.map((s) => [s.name, s.dtype, s.length]));
  });

  it('truncated anywhere: a one-line MithrilError', async () => {
    const cuts = [0, 3, 4, 21, 22, 100, 9314, file.length >> 1, file.length - 6179, file.length - 100, file.length - 23, file.length - 22, file.length - 1];
    for (const at of cuts) await expectMithrilError(() => readTorchLayout(new BufferSource(file.subarray(0, at), 'x.pt')), /./);
  });
});

// A hand-built checkpoint: nested containers, a storage shared by two tensors, non-tensor objects,
// a parameter, an UntypedStorage tensor (_rebuild_tensor_v3), and storages it must leave opaque.
function handCheckpoint(): V {
  const f32 = (key: string, numel: number, shape: number[], offset = 0): V => ({ tensor: { storage: 'FloatStorage', key, numel, shape, offset } });
  return {
    dict: [
      ['model', { odict: [
        ['layer.weight', f32('0', 6, [2, 3])],
        ['layer.bias', { tensor: { storage: 'HalfStorage', key: '1', numel: 3, shape: [3] } }],
      ] }],
      // A shared storage: "z_view" first in the file, but "a_view" sorts first.
      ['z_view', f32('2', 8, [2, 2], 4)],
      ['a_view', f32('2', 8, [4])],
      ['meta', { dict: [
        ['lr', { float: 0.001 }], ['step', 123456], ['neg', -7], ['name', 'run-ü'], ['none', null], ['flag', true],
        ['tup', { tuple: [1, 'x', { float: 2.5 }, null] }], ['big', { long: 2n ** 70n }], ['raw', { bytes: Uint8Array.from([1, 2, 3]) }],
        [3, 'int key'], [{ tuple: [1, 2] }, 'tuple key'],
        ['ns', { call: 'argparse.Namespace', args: [], state: { dict: [['epochs', 10]] } }],
      ] }],
      ['optimizer', { dict: [
        ['state', { dict: [
          [0, { dict: [['exp_avg', { tensor: { storage: 'BFloat16Storage', key: '3', numel: 4, shape: [4] } }]] }],
          [1, { dict: [['step', { tensor: { storage: 'LongStorage', key: '4', numel: 1, shape: [] } }]] }],
        ] }],
        ['param_groups', { list: [{ dict: [['lr', { float: 0.1 }], ['params', { list: [0, 1] }]] }] }],
      ] }],
      ['param', { param: { storage: 'DoubleStorage', key: '5', numel: 2, shape: [2] } }],
      ['u16', { tensor: { storage: 'torch.storage.UntypedStorage', key: '6', numel: 10, shape: [5], dtype: 'uint16' } }],
      ['mismatch', f32('7', 5, [5])], // declares 20 bytes, the entry has 16: stays opaque
      ['complex', { tensor: { storage: 'ComplexFloatStorage', key: '8', numel: 2, shape: [2] } }], // unknown dtype: opaque
      ['list', { list: [f32('9', 1, []), { tuple: [f32('10', 1, [1])] }] }],
    ],
  };
}

function handZip(pickle: Uint8Array, opts: { descriptor?: boolean; zip64?: boolean; prefix?: string; extra?: ZipInput[] } = {}): Buffer {
  const p = opts.prefix ?? 'ckpt';
  const d = opts.descriptor;
  const sizes: [string, number][] = [['0', 24], ['1', 6], ['2', 32], ['3', 8], ['4', 8], ['5', 16], ['6', 10], ['7', 16], ['8', 16], ['9', 4], ['10', 4], ['11', 12]];
  return buildZip([
    { name: `${p}/data.pkl`, data: pickle, descriptor: d },
    ...sizes.map(([key, n], i): ZipInput => ({ name: `${p}/data/${key}`, data: bytesOf(n, i), descriptor: d })),
    { name: `${p}/version`, data: Buffer.from('3\n'), descriptor: d },
    ...(opts.extra ?? []),
  ], { zip64: opts.zip64 });
}

describe('hand-built torch archive (odd alignment, nested containers, shared storage)', () => {
  for (const protocol of [2, 4] as const) {
    for (const descriptor of [false, true]) {
      it(`protocol ${protocol}, ${descriptor ? 'with' : 'without'} data descriptors`, async () => {
        const pickle = new PickleWriter(protocol).write(handCheckpoint());
        const zip = handZip(pickle, { descriptor, zip64: descriptor });
        const source = new BufferSource(zip, 'hand.pt');
        const checkpoint = (await readTorchCheckpoint(source));
        const { layout } = checkpoint;
        assertCovers(layout, zip.length);
        assert.equal(checkpoint.pickleProblem, undefined);
        const entries = new Map((await readZipEntries(source)).map((e) => [e.name, e]));
        const got = tensorsOf(layout).map((s) => {
          const e = [...entries.values()].find((x) => x.dataOffset === s.offset);
          assert.ok(e);
          assert.equal(s.length, e.size);
          return [e.name.slice('ckpt/data/'.length), s.name, s.dtype, s.shape];
        });
        // The viewing tensor's shape where one whole tensor holds the storage; else its element count
        // (the storage shared by two views).
        assert.deepEqual(got, [
          ['0', 'model.layer.weight', 'F32', [2, 3]],
          ['1', 'model.layer.bias', 'F16', [3]],
          ['2', 'a_view', 'F32', [8]],
          ['3', 'optimizer.state.0.exp_avg', 'BF16', [4]],
          ['4', 'optimizer.state.1.step', 'I64', []],
          ['5', 'param', 'F64', [2]],
          ['6', 'u16', 'U16', [5]],
          ['9', 'list.0', 'F32', []],
          ['10', 'list.1.0', 'F32', [1]],
        ]);
        assert.ok(tensorsOf(layout).some((s) => s.offset % 2 === 1), 'some tensor data starts at an odd offset');
        const opaqueEntries = ['7', '8', '11'].map((k) => entries.get(`ckpt/data/${k}`));
        for (const e of opaqueEntries) {
          assert.ok(e);
          assert.ok(layout.segments.some((s) => s.kind === 'opaque' && s.role === 'zip record' && s.offset === e.dataOffset && s.length === e.size));
        }
        const shared = checkpoint.storages.get('2');
        assert.deepEqual(shared?.names, ['a_view', 'z_view']);
        assert.deepEqual(shared?.views.map((v) => [v.name, v.offset, v.shape, v.stride]), [['z_view', 4, [2, 2], [2, 1]], ['a_view', 0, [4], [1]]]);
        assert.equal(checkpoint.storages.get('8')?.dtype, undefined);
        assert.equal(checkpoint.storages.get('7')?.dtype, 'F32');
      });
    }
  }

  it('non-tensor objects come out as inert values', () => {
    const pickle = new PickleWriter(2).write(handCheckpoint());
    const root = parsePickle(pickle) as Extract<PickleValue, { type: 'dict' }>;
    const meta = root.entries.find(([k]) => k === 'meta')?.[1] as Extract<PickleValue, { type: 'dict' }>;
    const m = new Map(meta.entries.map(([k, v]) => [typeof k === 'object' ? JSON.stringify(k) : k, v]));
    assert.deepEqual(m.get('lr'), { type: 'float', value: 0.001 });
    assert.equal(m.get('step'), 123456);
    assert.equal(m.get('neg'), -7);
    assert.equal(m.get('name'), 'run-ü');
    assert.equal(m.get('none'), null);
    assert.equal(m.get('flag'), true);
    assert.equal(m.get('big'), 2n ** 70n);
    assert.deepEqual(m.get('raw'), Uint8Array.from([1, 2, 3]));
    assert.equal(m.get(3), 'int key');
    assert.deepEqual(m.get('tup'), { type: 'tuple', items: [1, 'x', { type: 'float', value: 2.5 }, null] });
    const ns = m.get('ns') as Extract<PickleValue, { type: 'call' }>;
    assert.equal(ns.type, 'call');
    assert.deepEqual(ns.func, { type: 'global', module: 'argparse', name: 'Namespace', global: 'argparse.Namespace' });
    assert.deepEqual(ns.state, [{ type: 'dict', entries: [['epochs', 10]] }]);
  });

  it('a compressed (deflated) storage entry and a zip comment: opaque, no error', async () => {
    const pickle = new PickleWriter(2).write({ dict: [['w', { tensor: { storage: 'FloatStorage', key: '0', numel: 4, shape: [4] } }]] });
    const zip = buildZip([
      { name: 'a/data.pkl', data: pickle },
      { name: 'a/data/0', data: bytesOf(16, 1), method: 8 },
    ], { comment: 'hello PK\x05\x06 comment' });
    const layout = (await readTorchLayout(new BufferSource(zip, 'x.pt')));
    assertCovers(layout, zip.length);
    assert.equal(tensorsOf(layout).length, 0);
  });

  it('a zip that is not a torch archive (no data.pkl): refused', async () => {
    const zip = buildZip([{ name: 'readme.txt', data: Buffer.from('hi') }, { name: 'x/y', data: bytesOf(40, 2) }]);
    await expectMithrilError(() => readTorchCheckpoint(new BufferSource(zip, 'x.pt')), /^a zip archive but not a torch\.save checkpoint \(no data\.pkl record\)$/);
  });

  it('an empty archive', async () => {
    const zip = buildZip([]);
    // An empty zip starts with the end record, not a local header: not a torch.save file.
    await expectMithrilError(() => readTorchLayout(new BufferSource(zip, 'x.pt')), /not a torch.save checkpoint/);
    assert.deepEqual((await readZipEntries(new BufferSource(zip, 'x.pt'))), []);
  });

  it('big-endian storages (byteorder record) stay opaque', async () => {
    const pickle = new PickleWriter(2).write(handCheckpoint());
    const zip = handZip(pickle, { extra: [{ name: 'ckpt/byteorder', data: Buffer.from('big') }] });
    const checkpoint = (await readTorchCheckpoint(new BufferSource(zip, 'x.pt')));
    assertCovers(checkpoint.layout, zip.length);
    assert.equal(tensorsOf(checkpoint.layout).length, 0);
    const little = handZip(pickle, { extra: [{ name: 'ckpt/byteorder', data: Buffer.from('little') }] });
    assert.equal(tensorsOf((await readTorchLayout(new BufferSource(little, 'x.pt')))).length, 9);
  });
});

describe('ZIP64: entries and archives over 4 GiB (virtual, nothing allocated)', () => {
  it('a 5 GiB F32 storage, then a storage beyond 4 GiB, then the directory', async () => {
    const big = 5 * 2 ** 30;
    const pickle = new PickleWriter(2).write({
      dict: [
        ['huge', { tensor: { storage: 'FloatStorage', key: '0', numel: big / 4, shape: [big / 4] } }],
        ['after', { tensor: { storage: 'BFloat16Storage', key: '1', numel: 3, shape: [3] } }],
      ],
    });
    for (const descriptor of [false, true]) {
      const { pieces, size } = buildZipPieces([
        { name: 'arch/data.pkl', data: pickle, pad: 7 },
        { name: 'arch/data/0', size: big, descriptor },
        { name: 'arch/data/1', data: bytesOf(6, 3), descriptor },
        { name: 'arch/version', data: Buffer.from('3\n') },
      ]);
      const source = new VirtualSource(pieces, size);
      const archive = (await readZipArchive(source));
      assert.ok(archive.zip64);
      assert.ok(archive.directoryOffset > 2 ** 32);
      const [, huge, after] = archive.entries;
      assert.equal(huge.size, big);
      assert.ok(after.localHeaderOffset > 2 ** 32);
      const layout = (await readTorchLayout(source));
      assertCovers(layout, size);
      assert.deepEqual(tensorsOf(layout).map((s) => [s.name, s.dtype, s.shape[0], s.offset, s.length]), [
        ['huge', 'F32', big / 4, huge.dataOffset, big],
        ['after', 'BF16', 3, after.dataOffset, 6],
      ]);
    }
  });
});

describe('hostile pickles: plain bytes, never an error that loses the file, never code execution', () => {
  const storageEntry: ZipInput = { name: 'h/data/0', data: bytesOf(16, 5) };
  async function fallback(pickle: Uint8Array, problem: RegExp): Promise<void> {
    const zip = buildZip([{ name: 'h/data.pkl', data: pickle }, storageEntry]);
    const checkpoint = (await readTorchCheckpoint(new BufferSource(zip, 'x.pt')));
    assertCovers(checkpoint.layout, zip.length);
    assert.equal(tensorsOf(checkpoint.layout).length, 0);
    assert.match(checkpoint.pickleProblem ?? '', problem);
  }
  const good = new PickleWriter(2).write({ dict: [['w', { tensor: { storage: 'FloatStorage', key: '0', numel: 4, shape: [4] } }]] });

  it('the good pickle gives a tensor (control)', async () => {
    const zip = buildZip([{ name: 'h/data.pkl', data: good }, storageEntry]);
    assert.deepEqual(tensorsOf((await readTorchLayout(new BufferSource(zip, 'x.pt')))).map((s) => s.name), ['w']);
  });

  it('unknown opcodes', async () => {
    (await fallback(Uint8Array.from([0x80, 0x02, 0xff, 0x2e]), /unsupported opcode 0xff/));
    (await fallback(Uint8Array.from([0x80, 0x02, 0x82, 0x01, 0x2e]), /unsupported opcode 0x82/)); // EXT1
    (await fallback(Uint8Array.from([0x80, 0x05, 0x97, 0x2e]), /unsupported opcode 0x97/)); // NEXT_BUFFER
    (await fallback(Uint8Array.from([0x80, 0x06, 0x4e, 0x2e]), /unsupported pickle protocol 6/));
    (await fallback(Buffer.from("S'text'\n."), /unsupported opcode 0x53/));
  });

  it('truncated at every byte', async () => {
    for (let at = 0; at < good.length; at++) (await fallback(good.subarray(0, at), /truncated|declares|stack underflow|no MARK|argument|end of line/));
  });

  it('huge declared lengths', async () => {
    const cases: number[][] = [
      [0x58, 0xff, 0xff, 0xff, 0xff], // BINUNICODE 4 GiB
      [0x8d, ...u64(2 ** 52)], // BINUNICODE8
      [0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // BINUNICODE8 2^64-1
      [0x8e, ...u64(2 ** 40)], // BINBYTES8
      [0x96, ...u64(2 ** 40)], // BYTEARRAY8
      [0x42, 0xff, 0xff, 0xff, 0x7f], // BINBYTES
      [0x54, 0xff, 0xff, 0xff, 0x7f], // BINSTRING
      [0x8b, 0xff, 0xff, 0xff, 0x7f], // LONG4
      [0x95, ...u64(2 ** 50)], // FRAME
    ];
    for (const c of cases) (await fallback(Uint8Array.from([0x80, 0x04, ...c, 0x2e]), /declares \d+ bytes but only \d+ remain/));
    (await fallback(Uint8Array.from([0x80, 0x02, 0x54, 0xff, 0xff, 0xff, 0xff, 0x2e]), /negative length/));
    (await fallback(Uint8Array.from([0x80, 0x02, 0x6a, 0xff, 0xff, 0xff, 0x7f, 0x2e]), /memo key \d+ was never stored/));
  });

  it('deep nesting: 10^5 MARKs, 10^5 nested lists (through the memo), 10^5 nested tuples', async () => {
    const N = 100_000;
    (await fallback(Uint8Array.from([0x80, 0x02, ...new Array<number>(N).fill(0x28), 0x4e, 0x2e]), /MARKs nested deeper than/));
    // L0 = []; then N times: get L(i), push [] , memoize as L(i+1), APPEND it to L(i).
    const lists: number[] = [0x80, 0x04, 0x5d, 0x94];
    for (let i = 0; i < N; i++) lists.push(0x6a, ...u32(i), 0x5d, 0x94, 0x61, 0x30);
    lists.push(0x6a, ...u32(0), 0x2e);
    (await fallback(Uint8Array.from(lists), /nested deeper than/));
    (await fallback(Uint8Array.from([0x80, 0x02, 0x4e, ...new Array<number>(N).fill(0x85), 0x2e]), /nested deeper than/));
    // As a dict key (names are built from keys): read, and the key is named without recursing 10^5 deep.
    const key = Uint8Array.from([0x80, 0x02, 0x7d, 0x4e, ...new Array<number>(N).fill(0x85), 0x4e, 0x73, 0x2e]);
    const zip = buildZip([{ name: 'h/data.pkl', data: key }, storageEntry]);
    const checkpoint = (await readTorchCheckpoint(new BufferSource(zip, 'x.pt')));
    assertCovers(checkpoint.layout, zip.length);
    assert.equal(checkpoint.pickleProblem, undefined);
  });

  it('shared references that would explode into 2^40 paths: the walk is bounded', async () => {
    // L0 = [tensor]; L(i+1) = [L(i), L(i)]: 2^40 paths to the tensor in a few hundred bytes.
    const body = new PickleWriter(2).write({ list: [{ tensor: { storage: 'FloatStorage', key: '0', numel: 4, shape: [4] } }] });
    const ops: number[] = [...body.subarray(0, body.length - 1)]; // L0 left on the stack (no STOP)
    ops.push(0x72, ...u32(1000));
    for (let i = 0; i < 40; i++) ops.push(0x30, 0x5d, 0x72, ...u32(1001 + i), 0x28, 0x6a, ...u32(1000 + i), 0x6a, ...u32(1000 + i), 0x65);
    ops.push(0x2e);
    const started = Date.now();
    (await fallback(Uint8Array.from(ops), /too large to walk/));
    assert.ok(Date.now() - started < 5000);
  });

  it('a cycle (a list inside itself) is walked once, the tensor still found', () => {
    const body = new PickleWriter(2).write({ list: [{ tensor: { storage: 'FloatStorage', key: '0', numel: 4, shape: [4] } }] });
    // The root list is memo 0: append it to itself before STOP.
    const ops = [...body.subarray(0, body.length - 1), 0x68, 0x00, 0x61, 0x2e];
    const info = readTorchPickle(Uint8Array.from(ops));
    assert.deepEqual(info.storages.get('0')?.names, ['0']);
  });

  it('GLOBAL / REDUCE of os.system and builtins.eval only record names', async () => {
    const evil = new PickleWriter(2).write({
      list: [
        { call: 'os.system', args: ['touch /tmp/mithril-pwned'] },
        { call: 'builtins.eval', args: ["__import__('os').system('id')"] },
        { call: 'builtins.getattr', args: [{ global: 'builtins.__import__' }, 'system'] },
      ],
    });
    const root = parsePickle(evil) as Extract<PickleValue, { type: 'list' }>;
    assert.deepEqual(root.items[0], {
      type: 'call',
      func: { type: 'global', module: 'os', name: 'system', global: 'os.system' },
      args: { type: 'tuple', items: ['touch /tmp/mithril-pwned'] },
      via: 'reduce',
      state: [],
      listItems: [],
      dictItems: [],
    });
    const zip = buildZip([{ name: 'h/data.pkl', data: evil }, storageEntry]);
    assertCovers((await readTorchLayout(new BufferSource(zip, 'x.pt'))), zip.length);
  });

  it('malformed structure: SETITEM on a list, BUILD on a dict, odd SETITEMS, STACK_GLOBAL of numbers', async () => {
    (await fallback(Uint8Array.from([0x80, 0x02, 0x5d, 0x4e, 0x4e, 0x73, 0x2e]), /SETITEM on list/));
    (await fallback(Uint8Array.from([0x80, 0x02, 0x7d, 0x7d, 0x62, 0x2e]), /BUILD on dict/));
    (await fallback(Uint8Array.from([0x80, 0x02, 0x7d, 0x28, 0x4e, 0x75, 0x2e]), /odd number/));
    (await fallback(Uint8Array.from([0x80, 0x04, 0x4b, 0x01, 0x4b, 0x02, 0x93, 0x2e]), /STACK_GLOBAL/));
    (await fallback(Uint8Array.from([0x80, 0x02, 0x2e]), /stack underflow/));
  });

  it('a storage declared with conflicting types stays opaque', async () => {
    const p = new PickleWriter(2).write({
      list: [
        { tensor: { storage: 'FloatStorage', key: '0', numel: 4, shape: [4] } },
        { tensor: { storage: 'IntStorage', key: '0', numel: 4, shape: [4] } },
      ],
    });
    const zip = buildZip([{ name: 'h/data.pkl', data: p }, storageEntry]);
    assert.equal(tensorsOf((await readTorchLayout(new BufferSource(zip, 'x.pt')))).length, 0);
  });
});

describe('hostile zips: one-line MithrilError', () => {
  const pickle = new PickleWriter(2).write(handCheckpoint());
  const zip = handZip(pickle, { descriptor: true });
  const zip64 = handZip(pickle, { descriptor: true, zip64: true });
  const read = (b: Uint8Array) => () => readTorchLayout(new BufferSource(b, 'x.pt'));
  const eocdAt = (b: Uint8Array): number => Buffer.from(b).lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const patch = (b: Uint8Array, at: number, bytes: number[]): Buffer => {
    const out = Buffer.from(b);
    out.set(bytes, at);
    return out;
  };
  const cdAt = (b: Uint8Array): number => Buffer.from(b).readUInt32LE(eocdAt(b) + 16);

  it('truncated at every byte', async () => {
    for (const z of [zip, zip64]) {
      for (let at = 0; at < z.length; at++) await expectMithrilError(read(z.subarray(0, at)), /./);
    }
  });

  it('end record pointing outside the file', async () => {
    await expectMithrilError(read(patch(zip, eocdAt(zip) + 16, u32(0x7fffffff))), /central directory .* runs past the end records/);
    await expectMithrilError(read(patch(zip, eocdAt(zip) + 12, u32(0x7fffffff))), /central directory .* runs past the end records/);
    await expectMithrilError(read(patch(zip, eocdAt(zip) + 16, u32(0xffffffff))), /ZIP64 records, which are missing/);
  });

  it('absurd entry counts', async () => {
    await expectMithrilError(read(patch(zip, eocdAt(zip) + 8, [...u16(0xfffe), ...u16(0xfffe)])), /claims 65534 entries/);
    const record = Buffer.from(zip64).lastIndexOf(Buffer.from([0x50, 0x4b, 0x06, 0x06]));
    await expectMithrilError(read(patch(zip64, record + 24, [...u64(2 ** 50), ...u64(2 ** 50)])), /claims \d+ entries/);
    await expectMithrilError(read(patch(zip64, record + 24, [...u64(1)])), /multi-disk/);
    await expectMithrilError(read(patch(zip64, record + 40, [...u64(2 ** 50)])), /central directory .* runs past/);
  });

  it('ZIP64 locator pointing outside', async () => {
    const locator = Buffer.from(zip64).lastIndexOf(Buffer.from([0x50, 0x4b, 0x06, 0x07]));
    await expectMithrilError(read(patch(zip64, locator + 8, u64(2 ** 40))), /ZIP64 end record offset/);
    await expectMithrilError(read(patch(zip64, locator + 8, u64(0))), /no ZIP64 end of central directory record/);
  });

  it('damaged central directory and local headers', async () => {
    const cd = cdAt(zip);
    await expectMithrilError(read(patch(zip, cd, [0, 0, 0, 0])), /central directory record 0 .* bad signature/);
    await expectMithrilError(read(patch(zip, cd + 42, u32(0x7ffffff0))), /local header offset \d+ is not before the central directory/);
    await expectMithrilError(read(patch(zip, cd + 28, u16(0xfff0))), /runs past the end of the central directory/);
    await expectMithrilError(read(patch(zip, cd + 20, [...u32(0x7ffffff0), ...u32(0x7ffffff0)])), /exceeds the space before the central directory/);
    await expectMithrilError(read(patch(zip, cd + 20, [...u32(100), ...u32(101)])), /compressed size 100 but size 101/);
    await expectMithrilError(read(patch(zip, cd + 20, [...u32(0xffffffff)])), /needs a ZIP64 extra field/);
    await expectMithrilError(read(patch(zip, cd + 20, [...u32(pickle.length + 40), ...u32(pickle.length + 40)])), /entries "ckpt\/data.pkl" and "ckpt\/data\/0" overlap/);
    await expectMithrilError(read(patch(zip, 30, [0x58])), /local header name differs/);
    await expectMithrilError(read(patch(zip, 0, [0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 8])), /local header says method 8/);
    const second = (await readZipEntries(new BufferSource(zip, 'x.pt')))[1];
    await expectMithrilError(read(patch(zip, second.localHeaderOffset, [0, 0])), /no local file header at offset/);
    // Two entries claiming the same local header.
    const cdFirstLength = 46 + 'ckpt/data.pkl'.length;
    await expectMithrilError(read(patch(zip, cd + cdFirstLength + 42, u32(0))), /name differs|overlap/);
  });

  it('not a zip at all, beyond its first bytes', async () => {
    await expectMithrilError(read(Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(100)])), /no end of central directory record/);
    await expectMithrilError(read(Buffer.from('PK\x03\x04')), /too short/);
  });
});

describe('legacy formats', () => {
  const magic = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
  it('pre-1.6 torch.save (pickle magic number first): refused with a clear line', async () => {
    const legacy = Uint8Array.from([0x80, 0x02, ...magic, 0x2e, 0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e, ...bytesOf(100, 1)]);
    assert.ok(looksLikeLegacyTorch(legacy.subarray(0, 16)));
    assert.ok(!looksLikeTorchZip(legacy));
    await expectMithrilError(() => readTorchLayout(new BufferSource(legacy, 'x.pt')), new RegExp(`^${LEGACY_TORCH_PROBLEM.replace(/[.()>=]/g, '\\$&')}$`));
    const protocol4 = Uint8Array.from([0x80, 0x04, 0x95, ...u64(13), ...magic, 0x2e, ...bytesOf(40, 2)]);
    assert.ok(looksLikeLegacyTorch(protocol4.subarray(0, 32)));
    await expectMithrilError(() => readTorchLayout(new BufferSource(protocol4, 'x.pt')), /legacy \(pre-1\.6\) torch\.save format is not supported: re-save with torch>=1\.6/);
    // An ordinary pickle is not the legacy format.
    assert.ok(!looksLikeLegacyTorch(Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e])));
    assert.ok(!looksLikeLegacyTorch(Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x18])));
  });

  it('TorchScript archives (constants.pkl, code/): read as zips, storages named through module attributes', async () => {
    // torch.jit.save: data.pkl holds the module object: NEWOBJ of a __torch__ class, BUILD with its attributes.
    const linear: V = {
      call: '__torch__.torch.nn.modules.linear.Linear',
      args: [],
      state: { dict: [['training', false], ['weight', { tensor: { storage: 'FloatStorage', key: '0', numel: 6, shape: [2, 3] } }], ['bias', { tensor: { storage: 'FloatStorage', key: '1', numel: 2, shape: [2] } }]] },
    };
    const net: V = { call: '__torch__.Net', args: [], state: { dict: [['training', false], ['fc', linear]] } };
    const zip = buildZip([
      { name: 'net/data.pkl', data: new PickleWriter(2).write(net) },
      { name: 'net/code/__torch__.py', data: Buffer.from('class Net(Module):\n  pass\n') },
      { name: 'net/data/0', data: bytesOf(24, 1) },
      { name: 'net/data/1', data: bytesOf(8, 2) },
      { name: 'net/constants.pkl', data: new PickleWriter(2).write({ tuple: [] }) },
      { name: 'net/version', data: Buffer.from('6\n') },
    ]);
    const checkpoint = (await readTorchCheckpoint(new BufferSource(zip, 'x.pt')));
    assert.ok(checkpoint.torchScript);
    assertCovers(checkpoint.layout, zip.length);
    assert.deepEqual(tensorsOf(checkpoint.layout).map((s) => [s.name, s.dtype, s.length]), [['fc.weight', 'F32', 24], ['fc.bias', 'F32', 8]]);
  });
});
