/**
 * A torch.distributed.checkpoint folder's `.metadata`: a pickle of a `Metadata` object, read as
 * inert data by the pickle machine (nothing is imported or called). What it tells a `.distcp` file:
 * which byte ranges are which items (`storage_data`: MetadataIndex(fqn, offset, index) →
 * _StorageInfo(relative_path, offset, length, transform_descriptors)) and, for a tensor's chunk,
 * its place in the whole tensor (`state_dict_metadata`: fqn → TensorStorageMetadata(properties,
 * size, chunks[ChunkStorageMetadata(offsets, sizes)]), or BytesStorageMetadata for other objects).
 */
import { parsePickle } from './pickle/machine.js';
import { isObj, PickleError, type PickleValue } from './pickle/values.js';
import { torchDtype } from './torch-pickle.js';

const MODULE = 'torch.distributed.checkpoint.metadata';

/** One item of a `.distcp` file. */
export interface DcpItem {
  /** The state dict's key, e.g. "model.layers.0.weight" or "optimizer.param_groups.0.lr". */
  fqn: string;
  /** The `.distcp` file holding it, relative to the folder. */
  file: string;
  offset: number;
  length: number;
  /** The bytes went through transforms (compression, ...) after torch.save: they are not a torch.save archive. */
  transformed: boolean;
  /** For a tensor's chunk: where it starts in the whole tensor; absent for a bytes item. */
  chunkOffsets?: number[];
  /** For a tensor: the whole tensor's shape, and its dtype (safetensors spelling) when known. */
  tensor?: { size: number[]; dtype?: string };
}

/** Whether the first bytes are a pickle of a DCP `Metadata` (its first global is that class, as pickle writes it). */
export function looksLikeDcpMetadata(first: Uint8Array): boolean {
  if (first.length < 2 || first[0] !== 0x80) return false;
  return new TextDecoder('latin1').decode(first).includes(MODULE);
}

/** The items of every `.distcp` file of the folder, by file; throws PickleError for a pickle that is not a DCP Metadata. */
export function readDcpMetadata(data: Uint8Array): Map<string, DcpItem[]> {
  const root = parsePickle(data);
  if (!isClass(root, 'Metadata')) throw new PickleError('not a torch.distributed.checkpoint Metadata object');
  const top = fields(root);
  const tensors = dictEntries(top.get('state_dict_metadata'), 'state_dict_metadata');
  const storage = dictEntries(top.get('storage_data'), 'storage_data');
  const described = new Map<string, PickleValue>();
  for (const [k, v] of tensors) if (typeof k === 'string') described.set(k, v);

  const files = new Map<string, DcpItem[]>();
  for (const [key, value] of storage) {
    if (!isClass(key, 'MetadataIndex')) throw new PickleError('a storage_data key is not a MetadataIndex');
    const index = fields(key);
    const info = fields(value);
    const fqn = index.get('fqn');
    const file = info.get('relative_path');
    const offset = info.get('offset');
    const length = info.get('length');
    if (typeof fqn !== 'string' || typeof file !== 'string' || !isCount(offset) || !isCount(length)) {
      throw new PickleError(`storage_data item ${typeof fqn === 'string' ? fqn : '?'} has no file, offset or length`);
    }
    const transforms = info.get('transform_descriptors') ?? null;
    const transformed = (isObj(transforms, 'list') || isObj(transforms, 'tuple')) && transforms.items.length > 0;
    const item: DcpItem = { fqn, file, offset, length, transformed };
    const chunkOffsets = ints(index.get('offset') ?? null);
    const tensor = tensorOf(described.get(fqn));
    if (chunkOffsets && tensor && chunkOffsets.length === tensor.size.length) {
      item.chunkOffsets = chunkOffsets;
      item.tensor = tensor;
    }
    const list = files.get(file) ?? [];
    list.push(item);
    files.set(file, list);
  }
  return files;
}

/**
 * The name a tensor item goes by: its fqn when the file holds it whole, else the fqn and where
 * the chunk starts (e.g. "lm_head.weight@128,0"), so that the same chunk pairs across steps.
 */
export function dcpTensorName(item: DcpItem, shape: readonly number[]): string {
  const whole = item.tensor !== undefined && item.chunkOffsets!.every((o) => o === 0) && item.tensor.size.join() === shape.join();
  return whole || !item.chunkOffsets ? item.fqn : `${item.fqn}@${item.chunkOffsets.join(',')}`;
}

function tensorOf(v: PickleValue | undefined): DcpItem['tensor'] {
  if (v === undefined || !isClass(v, 'TensorStorageMetadata')) return undefined;
  const f = fields(v);
  const size = ints(f.get('size') ?? null);
  if (!size) return undefined;
  const dtype = dtypeOf(f.get('properties'));
  return dtype === undefined ? { size } : { size, dtype };
}

/** TensorProperties' dtype: its first field, pickled as the global `torch.<dtype>` (in a state tuple or dict). */
function dtypeOf(properties: PickleValue | undefined): string | undefined {
  if (properties === undefined || !isObj(properties, 'call')) return undefined;
  const state = properties.state[0];
  const d = isObj(state ?? null, 'tuple') ? (state as { items: PickleValue[] }).items[0] : fields(properties).get('dtype');
  return d !== undefined && isObj(d, 'global') && d.module === 'torch' ? torchDtype(d.name) : undefined;
}

function isClass(v: PickleValue, name: string): boolean {
  return isObj(v, 'call') && isObj(v.func, 'global') && v.func.module === MODULE && v.func.name === name;
}

/** A dataclass's fields: BUILD states that are dicts, or (dict, slots dict) pairs, in order. */
function fields(v: PickleValue): Map<string, PickleValue> {
  const out = new Map<string, PickleValue>();
  if (!isObj(v, 'call')) return out;
  for (const s of v.state) {
    const dicts = isObj(s, 'tuple') && s.items.length === 2 ? s.items : [s];
    for (const d of dicts) if (isObj(d, 'dict')) for (const [k, x] of d.entries) if (typeof k === 'string') out.set(k, x);
  }
  return out;
}

/** A dict's entries (a plain dict, or an OrderedDict built by SETITEMS). */
function dictEntries(v: PickleValue | undefined, what: string): [PickleValue, PickleValue][] {
  if (v !== undefined && isObj(v, 'dict')) return v.entries;
  if (v !== undefined && isObj(v, 'call')) return v.dictItems;
  throw new PickleError(`Metadata has no ${what} dict`);
}

/** A tuple, list or `torch.Size((...))` of integers. */
function ints(v: PickleValue): number[] | undefined {
  if (isObj(v, 'call') && isObj(v.func, 'global') && v.func.global === 'torch.Size' && isObj(v.args, 'tuple') && v.args.items.length === 1) return ints(v.args.items[0]!);
  if (!isObj(v, 'tuple') && !isObj(v, 'list')) return undefined;
  return v.items.every(isCount) ? (v.items as number[]) : undefined;
}

function isCount(v: PickleValue | undefined): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
