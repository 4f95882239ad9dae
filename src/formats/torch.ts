/**
 * `torch.save` checkpoints (torch >= 1.6): a zip archive `<archive>/data.pkl` + one entry
 * `<archive>/data/<key>` per storage (+ `version`, `byteorder`, ...), every entry stored.
 *
 * The layout keeps the archive byte for byte: local headers, data descriptors, `data.pkl`, other
 * records, and the central directory with the end records are opaque segments; each storage entry
 * whose dtype the pickle tells us (and whose length is numel × element size) is a tensor segment
 * named after the first (sorted) tensor viewing it, e.g. "model.conv1.weight". A pickle that cannot
 * be followed only means the storages stay plain bytes; a zip without `<archive>/data.pkl` is refused.
 *
 * TorchScript archives (`torch.jit.save`: `constants.pkl`, `code/`) are read the same way: their
 * `data.pkl` holds the module's attributes and its storages are `data/<key>` entries too; what cannot
 * be interpreted stays opaque. The legacy (pre-1.6) non-zip format is rejected with a clear error.
 */
import { MithrilError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import { elementSize } from '../dtypes.js';
import type { Layout, Segment } from './layout.js';
import { readZipArchive, type ZipArchive, type ZipEntry } from './zip.js';
import { PickleError } from './pickle/values.js';
import { readTorchPickle, type TorchStorage, type TorchTensorView } from './torch-pickle.js';
import { MAX_PICKLE_BYTES } from '../limits.js';
export { MAX_PICKLE_BYTES };

export const LEGACY_TORCH_PROBLEM = 'legacy (pre-1.6) torch.save format is not supported: re-save with torch>=1.6';
export const NOT_TORCH_ZIP_PROBLEM = 'a zip archive but not a torch.save checkpoint (no data.pkl record)';

/** The magic number legacy torch.save pickles first: LONG1 of 0x1950a86a20f9469cfc6c, little-endian. */
const LEGACY_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/** A zip archive starting with a local file header, as torch.save (>= 1.6) writes it. */
export function looksLikeTorchZip(first: Uint8Array): boolean {
  return first.length >= 4 && first[0] === 0x50 && first[1] === 0x4b && first[2] === 0x03 && first[3] === 0x04;
}

/**
 * The legacy torch.save format: a pickle (PROTO 2..5, with a FRAME for protocol 4+) whose first
 * object is the magic number. Needs the first 14 bytes (23 for protocol 4+: pass 32 to be safe).
 */
export function looksLikeLegacyTorch(first: Uint8Array): boolean {
  if (first.length < 2 || first[0] !== 0x80 || first[1] < 2 || first[1] > 5) return false;
  let p = 2;
  if (first[p] === 0x95) p += 9; // FRAME + 8-byte length
  if (first.length < p + LEGACY_MAGIC.length) return false;
  return LEGACY_MAGIC.every((b, i) => first[p + i] === b);
}

/** What the reader learned about a checkpoint beyond its layout. */
export interface TorchCheckpoint {
  layout: Layout;
  archive: ZipArchive;
  /** The archive's top folder (e.g. "cnn_train_epoch6" or "archive"), the one holding `data.pkl`. */
  prefix: string;
  torchScript: boolean;
  /** Storages by key, as the pickle describes them (empty when it could not be interpreted). */
  storages: Map<string, TorchStorage>;
  /** Why the storages are plain bytes, when the pickle could not be followed. */
  pickleProblem?: string;
}

export async function readTorchLayout(source: ByteSource): Promise<Layout> {
  return (await readTorchCheckpoint(source)).layout;
}

export async function readTorchCheckpoint(source: ByteSource): Promise<TorchCheckpoint> {
  const first = await source.read(0, Math.min(32, source.size));
  if (looksLikeLegacyTorch(first)) throw new MithrilError(source.name, LEGACY_TORCH_PROBLEM, 'UNSUPPORTED');
  if (!looksLikeTorchZip(first)) throw new MithrilError(source.name, 'not a torch.save checkpoint (no zip local header at the start)', 'NOT_CHECKPOINT');
  const archive = await readZipArchive(source);
  const { entries } = archive;

  const pickle = torchPickleEntry(entries);
  if (!pickle) throw new MithrilError(source.name, NOT_TORCH_ZIP_PROBLEM, 'NOT_CHECKPOINT');
  const { prefix, entry: pickleEntry } = pickle;
  const byName = new Map<string, ZipEntry>();
  for (const e of entries) byName.set(e.name, e);
  const torchScript = entries.some((e) => e.name === `${prefix}/constants.pkl` || e.name.startsWith(`${prefix}/code/`));

  let storages = new Map<string, TorchStorage>();
  let pickleProblem: string | undefined;
  if (!isPlain(pickleEntry)) {
    pickleProblem = 'data.pkl is compressed or encrypted';
  } else if (pickleEntry.size > MAX_PICKLE_BYTES) {
    pickleProblem = `data.pkl is ${pickleEntry.size} bytes, over the ${MAX_PICKLE_BYTES}-byte limit`;
  } else if (!(await littleEndian(source, prefix, byName))) {
    pickleProblem = 'storages are big-endian';
  } else {
    try {
      storages = readTorchPickle(await source.read(pickleEntry.dataOffset, pickleEntry.size)).storages;
    } catch (e) {
      if (!(e instanceof PickleError || e instanceof RangeError)) throw e;
      pickleProblem = e.message;
    }
  }

  const sorted = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  const segments: Segment[] = [];
  const opaque = (role: string, offset: number, end: number): void => {
    if (end <= offset) return;
    const last = segments[segments.length - 1];
    if (last && last.kind === 'opaque' && last.role === role && last.offset + last.length === offset) last.length += end - offset;
    else segments.push({ kind: 'opaque', role, offset, length: end - offset });
  };
  const dataPrefix = `${prefix}/data/`;
  let cursor = 0;
  for (const e of sorted) {
    // Bytes before the first local header, or between an entry's data and the next local header
    // (the data descriptor), then the local header itself with its name and extra field.
    opaque(cursor === 0 ? 'gap' : 'zip header', cursor, e.localHeaderOffset);
    opaque('zip header', e.localHeaderOffset, e.dataOffset);
    const end = e.dataOffset + e.size;
    const storage = e.name.startsWith(dataPrefix) ? storages.get(e.name.slice(dataPrefix.length)) : undefined;
    const size = storage?.dtype === undefined ? undefined : elementSize(storage.dtype);
    if (storage && size !== undefined && storage.numel !== undefined && isPlain(e) && e.size === storage.numel * size) {
      segments.push({
        kind: 'tensor',
        name: storage.names[0] ?? e.name,
        dtype: storage.dtype as string,
        shape: viewedShape(storage) ?? [storage.numel],
        offset: e.dataOffset,
        length: e.size,
      });
    } else {
      opaque(e === pickleEntry ? 'pickle' : 'zip record', e.dataOffset, end);
    }
    cursor = end;
  }
  opaque(cursor === 0 ? 'gap' : 'zip header', cursor, archive.directoryOffset);
  opaque('zip directory', archive.directoryOffset, source.size);

  const layout: Layout = { format: 'torch', size: source.size, segments };
  const result: TorchCheckpoint = { layout, archive, prefix, torchScript, storages };
  if (pickleProblem !== undefined) result.pickleProblem = pickleProblem;
  return result;
}

/** torch.load's pickle record: `<prefix>/data.pkl`, the prefix being the first entry's top folder (torch names every entry "<prefix>/..."). */
export function torchPickleEntry(entries: ZipEntry[]): { prefix: string; entry: ZipEntry } | undefined {
  const first = entries[0]?.name ?? '';
  const prefix = first.slice(0, Math.max(0, first.indexOf('/')));
  const entry = prefix ? entries.find((e) => e.name === `${prefix}/data.pkl`) : undefined;
  return entry && { prefix, entry };
}

/**
 * The shape of the tensor a storage holds when every view of it is that one tensor, whole and
 * row-major (offset 0, contiguous strides, all its elements): then chunks can follow its rows.
 */
function viewedShape(storage: TorchStorage): number[] | undefined {
  const [first] = storage.views;
  if (!first || first.offset !== 0 || first.shape.reduce((a, d) => a * d, 1) !== storage.numel) return undefined;
  let expected = 1;
  for (let d = first.shape.length - 1; d >= 0; d--) {
    if (first.shape[d]! > 1 && first.stride[d] !== expected) return undefined;
    expected *= first.shape[d]!;
  }
  const same = (v: TorchTensorView): boolean => v.offset === 0 && v.shape.join() === first.shape.join() && v.stride.join() === first.stride.join();
  return storage.views.every(same) ? first.shape : undefined;
}

function isPlain(e: ZipEntry): boolean {
  return e.method === 0 && (e.flags & 1) === 0;
}

/** torch >= 2.1 records the byte order of the storages; older archives are little-endian. */
async function littleEndian(source: ByteSource, prefix: string, byName: Map<string, ZipEntry>): Promise<boolean> {
  const e = byName.get(`${prefix}/byteorder`);
  if (!e || !isPlain(e) || e.size > 16) return true;
  const text = new TextDecoder('latin1').decode(await source.read(e.dataOffset, e.size)).trim();
  return text !== 'big';
}
