/**
 * The seed inputs of every target, built once per process from the real fixtures (and a few
 * hand-made files), with the shape of each (where its structure is) for the mutators.
 */
import { decodeWith } from '../../src/codec/coders.js';
import { FOOTER_SIZE } from '../../src/container/format.js';
import { openBase } from '../../src/chunks/bases.js';
import { elementSize } from '../../src/dtypes.js';
import { readTorchPickle } from '../../src/formats/torch-pickle.js';
import { readZipArchive } from '../../src/formats/zip.js';
import { compressBuffer, type ContainerIndex, type DecompressOptions } from '../../src/index.js';
import { BufferSource } from '../../src/io/source.js';
import { readFixture } from '../helpers.js';
import { handCheckpointPickle, HAND_STORAGES, oddSafetensors, textOpcodesPickle, torchZip } from './builders.js';
import type { Shape } from './mutate.js';
import { mthShape, pickleShape, safetensorsShape, zipShape } from './shapes.js';

export interface MthSeed {
  name: string;
  weight: number;
  container: Uint8Array;
  /** What decoding must give back. */
  original: Uint8Array;
  /** The bases a delta container is decoded with (names of fixtures). */
  baseNames: string[];
  index: ContainerIndex;
  indexOffset: number;
  shape: Shape;
}

export interface FileSeed {
  name: string;
  weight: number;
  bytes: Uint8Array;
  shape: Shape;
}

export interface PickleSeed extends FileSeed {
  /** The storage entries (key, bytes) of the archive the pickle is wrapped in for the round trip. */
  storages: (readonly [string, number])[];
  /** Whether the wrapping archive is laid out like torch.save's (descriptors, 64-byte alignment, ZIP64). */
  torchStyle: boolean;
}

export interface Corpus {
  mth: MthSeed[];
  safetensors: FileSeed[];
  torch: FileSeed[];
  pickle: PickleSeed[];
}

/** The index of a container, decoded (the corpus's own containers are intact). */
export function readContainerIndex(container: Uint8Array): { index: ContainerIndex; indexOffset: number } {
  const footer = new DataView(container.buffer, container.byteOffset + container.length - FOOTER_SIZE, FOOTER_SIZE);
  const indexOffset = Number(footer.getBigUint64(0, true));
  const coded = container.subarray(indexOffset, container.length - FOOTER_SIZE);
  const json = new Uint8Array(Number(footer.getBigUint64(16, true)));
  decodeWith('zstd1', coded, json);
  return { index: JSON.parse(new TextDecoder().decode(json)) as ContainerIndex, indexOffset };
}

const baseCache = new Map<string, NonNullable<DecompressOptions['bases']>[number]>();

/** A fixture opened as a base checkpoint (hashed once per process). */
export async function fixtureBase(name: string): Promise<NonNullable<DecompressOptions['bases']>[number]> {
  let base = baseCache.get(name);
  if (!base) {
    base = { path: name, base: (await openBase(new BufferSource(readFixture(name), name))) };
    baseCache.set(name, base);
  }
  return base;
}

/** `level`: with bases, the delta coding: byte planes, `strong` (rANS) or `best` (rANS with low-rank sign models). */
async function mthSeed(name: string, weight: number, original: Uint8Array, baseNames: string[] = [], level: 'planes' | 'strong' | 'best' = 'planes'): Promise<MthSeed> {
  const bases = await Promise.all(baseNames.map(async (b) => (await fixtureBase(b)).base));
  const coding = { strong: level === 'strong', best: level === 'best' };
  const container = await compressBuffer(original, { name, ...(bases.length ? { bases, ...coding } : {}) });
  const { index, indexOffset } = readContainerIndex(container);
  return { name: `${name}.mth`, weight, container, original, baseNames, index, indexOffset, shape: mthShape(container, index, indexOffset) };
}

function fileSeed(name: string, weight: number, bytes: Uint8Array, shape: (b: Uint8Array) => Shape): FileSeed {
  return { name, weight, bytes, shape: shape(bytes) };
}

/** The data.pkl of a real torch checkpoint. */
async function dataPkl(file: Uint8Array): Promise<Uint8Array> {
  const source = new BufferSource(file, 'x.pt');
  const entry = (await readZipArchive(source)).entries.find((e) => e.name.endsWith('/data.pkl'))!;
  return file.slice(entry.dataOffset, entry.dataOffset + entry.size);
}

/**
 * Storage entries for wrapping a real pickle: its declared sizes when small, else a few bytes (kept
 * opaque); only the first 16 storages (each entry costs a chunk or two; the rest are simply absent).
 */
function storagesOf(pickle: Uint8Array): (readonly [string, number])[] {
  const out: (readonly [string, number])[] = [];
  for (const s of [...readTorchPickle(pickle).storages.values()].slice(0, 16)) {
    const bytes = s.dtype && s.numel !== undefined ? s.numel * (elementSize(s.dtype) ?? 1) : 16;
    out.push([s.key, bytes <= 4096 ? bytes : 24]);
  }
  return out;
}

let built: Promise<Corpus> | undefined;

export function corpus(): Promise<Corpus> {
  built ??= build();
  return built;
}

async function build(): Promise<Corpus> {
  const bf16 = readFixture('cnn_epoch6.bf16.safetensors');
  const fp32 = readFixture('cnn_epoch6.fp32.safetensors');
  const fp16 = readFixture('gpt_step500_layer0.fp16.safetensors');
  const pt = readFixture('cnn_train_epoch6.pt');
  const odd = oddSafetensors();

  const p2 = handCheckpointPickle(2);
  const p4 = handCheckpointPickle(4);
  const text = textOpcodesPickle();
  const real = (await dataPkl(pt));
  const handZip2 = torchZip(p2, HAND_STORAGES, { prefix: 'hand' });
  const handZip4 = torchZip(p4, HAND_STORAGES, { prefix: 'hand_ckpt', torchStyle: true });
  const handZipComment = torchZip(p2, HAND_STORAGES, { prefix: 'x', torchStyle: true, comment: 'PK\u0005\u0006 a comment that looks like an end record' });

  const mth = [
    await mthSeed('cnn_epoch6.bf16.safetensors', 2, bf16),
    await mthSeed('cnn_epoch6.fp32.safetensors', 1, fp32),
    await mthSeed('gpt_step500_layer0.fp16.safetensors', 1, fp16),
    await mthSeed('cnn_train_epoch6.pt', 1.5, pt),
    await mthSeed('cnn_epoch6.bf16.safetensors', 2, bf16, ['cnn_epoch5.bf16.safetensors']),
    await mthSeed('cnn_epoch6.bf16.safetensors', 1, bf16, ['cnn_epoch5.bf16.safetensors', 'cnn_epoch4.bf16.safetensors'], 'strong'),
    await mthSeed('ft_step20_layer0.bf16.safetensors', 1, readFixture('ft_step20_layer0.bf16.safetensors'), ['ft_step10_layer0.bf16.safetensors'], 'best'),
    await mthSeed('odd.safetensors', 1.5, odd),
    await mthSeed('hand.pt', 1, handZip4),
  ];
  // Tell the seeds apart by name: the two deltas have the same original.
  mth[4]!.name = 'cnn_epoch6.bf16.safetensors+delta(epoch5).mth';
  mth[5]!.name = 'cnn_epoch6.bf16.safetensors+delta-rans(epoch5,epoch4).mth';

  return {
    mth,
    safetensors: [
      fileSeed('cnn_epoch6.bf16.safetensors', 2, bf16, safetensorsShape),
      fileSeed('cnn_epoch6.fp32.safetensors', 1, fp32, safetensorsShape),
      fileSeed('gpt_step500_layer0.fp16.safetensors', 1, fp16, safetensorsShape),
      fileSeed('odd.safetensors', 2, odd, safetensorsShape),
    ],
    torch: [
      fileSeed('cnn_train_epoch6.pt', 1, pt, zipShape),
      fileSeed('hand-p2.pt', 1.5, handZip2, zipShape),
      fileSeed('hand-p4-torchstyle.pt', 1.5, handZip4, zipShape),
      fileSeed('hand-comment.pt', 0.5, handZipComment, zipShape),
    ],
    pickle: [
      { ...fileSeed('cnn_train_epoch6/data.pkl', 2, real, pickleShape), storages: storagesOf(real), torchStyle: true },
      { ...fileSeed('hand-p2.pkl', 1.5, p2, pickleShape), storages: [...HAND_STORAGES], torchStyle: false },
      { ...fileSeed('hand-p4.pkl', 1.5, p4, pickleShape), storages: [...HAND_STORAGES], torchStyle: true },
      { ...fileSeed('text-opcodes.pkl', 1, text, pickleShape), storages: [], torchStyle: false },
    ],
  };
}
