/**
 * What torch.save's `data.pkl` means: which storages exist, their dtype, and the tensors viewing
 * them, read from the inert object graph of the pickle machine (nothing is imported or called).
 *
 * Limits: the walk goes at most MAX_WALK_DEPTH deep and visits at most (data length + 100000)
 * objects (so shared references cannot explode); names and views per storage are capped below.
 */

import { elementSize } from '../dtypes.js';
import { MAX_WALK_DEPTH } from '../limits.js';
import { parsePickle } from './pickle/machine.js';
import { isObj, PickleError, type PickleCall, type PicklePersistent, type PickleTuple, type PickleValue } from './pickle/values.js';

/** A tensor found in the pickle: `_rebuild_tensor_v2(storage, offset, shape, stride, ...)` and kin. */
export interface TorchTensorView {
  /** Dotted path through dicts, lists, tuples and object states, e.g. "model.conv1.weight". */
  name: string;
  storageKey: string;
  /** Safetensors spelling; from the storage type, or the explicit dtype of `_rebuild_tensor_v3`. */
  dtype?: string;
  offset: number;
  shape: number[];
  stride: number[];
}

export interface TorchStorage {
  /** The key: the storage's data is the archive entry `<archive>/data/<key>`. */
  key: string;
  /** The storage type's name, e.g. "torch.FloatStorage" or "torch.storage.UntypedStorage". */
  storageType: string;
  location: string;
  /** Elements (for UntypedStorage: bytes, as torch records it). */
  declaredNumel: number;
  /** Safetensors spelling, when known for certain; absent for unknown storage types or conflicting records. */
  dtype?: string;
  /** Elements of `dtype` (set with dtype). */
  numel?: number;
  /** Names of the tensors viewing it (and paths where the storage itself is stored), sorted, unique. */
  names: string[];
  views: TorchTensorView[];
}

export interface TorchPickleInfo {
  storages: Map<string, TorchStorage>;
  tensors: TorchTensorView[];
}

/** Storage classes of torch (typed storages) and the dtypes they hold. */
const STORAGE_DTYPES = new Map<string, string>([
  ['FloatStorage', 'F32'], ['DoubleStorage', 'F64'], ['HalfStorage', 'F16'], ['BFloat16Storage', 'BF16'],
  ['LongStorage', 'I64'], ['IntStorage', 'I32'], ['ShortStorage', 'I16'], ['CharStorage', 'I8'],
  ['ByteStorage', 'U8'], ['BoolStorage', 'BOOL'],
]);

/** `torch.<dtype>` globals (as torch pickles a dtype) in safetensors spelling, aliases included. */
const TORCH_DTYPES = new Map<string, string>([
  ['float32', 'F32'], ['float', 'F32'], ['float64', 'F64'], ['double', 'F64'], ['float16', 'F16'],
  ['half', 'F16'], ['bfloat16', 'BF16'], ['int64', 'I64'], ['long', 'I64'], ['int32', 'I32'], ['int', 'I32'],
  ['int16', 'I16'], ['short', 'I16'], ['int8', 'I8'], ['uint8', 'U8'], ['bool', 'BOOL'], ['uint16', 'U16'],
  ['uint32', 'U32'], ['uint64', 'U64'], ['float8_e4m3fn', 'F8_E4M3'], ['float8_e5m2', 'F8_E5M2'],
  ['float8_e8m0fnu', 'F8_E8M0'],
]);

/** The safetensors spelling of `torch.<name>` (a pickled dtype), or undefined for one mithril does not know. */
export function torchDtype(name: string): string | undefined {
  return TORCH_DTYPES.get(name);
}

const TORCH_MODULES = new Set(['torch', 'torch.storage', 'torch.cuda']);
const REBUILD_TENSOR = new Set(['torch._utils._rebuild_tensor', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor_v3']);
const REBUILD_PARAMETER = new Set(['torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state']);
const REBUILD_FROM_TYPE = 'torch._tensor._rebuild_from_type_v2';

/** Parses and interprets a torch `data.pkl`; throws PickleError when it cannot follow it. */
export function readTorchPickle(data: Uint8Array): TorchPickleInfo {
  return interpretTorchPickle(parsePickle(data), data.length + 100_000);
}

/** Walks the unpickled object graph and collects storages and the tensors viewing them. */
export function interpretTorchPickle(root: PickleValue, maxVisits = 10_000_000): TorchPickleInfo {
  interface Raw {
    storageType: string;
    location: string;
    declaredNumel: number;
    conflict: boolean;
    names: Set<string>;
    views: TorchTensorView[];
  }
  const raw = new Map<string, Raw>();
  const tensors: TorchTensorView[] = [];
  const onPath = new Set<object>();
  let visits = 0;

  function storageOf(p: PicklePersistent): Raw | undefined {
    const id = p.id;
    if (!isObj(id, 'tuple') || id.items.length < 5 || id.items[0] !== 'storage') return undefined;
    const [, type, key, location, numel] = id.items;
    if (!isObj(type, 'global') || (typeof key !== 'string' && typeof key !== 'number')) return undefined;
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) return undefined;
    const k = String(key);
    const loc = typeof location === 'string' ? location : '';
    let r = raw.get(k);
    if (!r) {
      r = { storageType: type.global, location: loc, declaredNumel: numel, conflict: false, names: new Set(), views: [] };
      raw.set(k, r);
    } else if (r.storageType !== type.global || r.declaredNumel !== numel) {
      r.conflict = true;
    }
    return r;
  }

  function tensor(func: string, args: PickleValue, path: string[]): boolean {
    if (!isObj(args, 'tuple') || args.items.length < 4) return false;
    const [storage, offset, shape, stride] = args.items;
    if (!isObj(storage, 'persistent')) return false;
    const r = storageOf(storage);
    if (!r) return false;
    const dims = intTuple(shape);
    const strides = intTuple(stride);
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0 || !dims || !strides) return true;
    let dtype = storageDtype(r.storageType);
    if (func === 'torch._utils._rebuild_tensor_v3' && args.items.length >= 7) {
      const d = args.items[6];
      if (isObj(d, 'global') && d.module === 'torch' && TORCH_DTYPES.has(d.name)) dtype = TORCH_DTYPES.get(d.name);
    }
    if (r.views.length >= MAX_VIEWS) return true;
    const name = pathName(path);
    const storageKey = String((storage.id as PickleTuple).items[2]);
    const view: TorchTensorView = { name, storageKey, offset, shape: dims, stride: strides };
    if (dtype !== undefined) view.dtype = dtype;
    tensors.push(view);
    r.views.push(view);
    if (path.length > 0) r.names.add(name);
    return true;
  }

  function walkCall(c: PickleCall, path: string[], depth: number): void {
    const func = isObj(c.func, 'global') ? c.func.global : '';
    if (REBUILD_TENSOR.has(func) && tensor(func, c.args, path)) return;
    if (REBUILD_PARAMETER.has(func) && isObj(c.args, 'tuple') && c.args.items.length >= 1) {
      walk(c.args.items[0], path, depth + 1);
      for (const s of c.args.items.slice(3)) walkState(s, path, depth + 1);
      for (const s of c.state) walkState(s, path, depth + 1);
      return;
    }
    if (func === REBUILD_FROM_TYPE && isObj(c.args, 'tuple') && c.args.items.length >= 3) {
      // _rebuild_from_type_v2(func, new_type, args, state): a tensor subclass around func(*args).
      const [inner, , innerArgs] = c.args.items;
      const innerName = isObj(inner, 'global') ? inner.global : '';
      if (!(REBUILD_TENSOR.has(innerName) && tensor(innerName, innerArgs, path))) walk(innerArgs, path, depth + 1);
      for (const s of c.args.items.slice(3)) walkState(s, path, depth + 1);
      return;
    }
    // Any other object: its arguments by position, and what was set on it by name.
    walk(c.args, path, depth + 1);
    if (c.kwargs !== undefined) walkState(c.kwargs, path, depth + 1);
    for (let i = 0; i < c.listItems.length; i++) {
      if (mayHold(c.listItems[i])) walkAt(c.listItems[i], path, String(i), depth + 1);
    }
    for (const [k, v] of live(c.dictItems)) walkAt(v, path, keyName(k), depth + 1);
    for (const s of c.state) walkState(s, path, depth + 1);
  }

  /** An object state: a dict of attributes (or a (dict, slots) pair) names its contents. */
  function walkState(s: PickleValue, path: string[], depth: number): void {
    if (isObj(s, 'tuple') && s.items.length === 2 && s.items.every((x) => x === null || isObj(x, 'dict'))) {
      for (const d of s.items) if (d !== null) walk(d, path, depth + 1);
    } else {
      walk(s, path, depth + 1);
    }
  }

  /** Walks `v` one level below `path` under `name`. The path is one array, pushed and popped (copying it at every visit would cost visits × depth). */
  function walkAt(v: PickleValue, path: string[], name: string, depth: number): void {
    path.push(name);
    try {
      walk(v, path, depth);
    } finally {
      path.pop();
    }
  }

  function walk(v: PickleValue, path: string[], depth: number): void {
    if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return;
    if (v.type === 'float' || v.type === 'global') return;
    if (++visits > maxVisits) throw new PickleError(`object graph too large to walk (more than ${maxVisits} visits)`);
    if (depth > MAX_WALK_DEPTH) throw new PickleError(`objects nested deeper than ${MAX_WALK_DEPTH}`);
    if (onPath.has(v)) return; // a cycle
    onPath.add(v);
    switch (v.type) {
      case 'dict':
        for (const [k, x] of live(v.entries)) if (mayHold(x)) walkAt(x, path, keyName(k), depth + 1);
        break;
      case 'list':
      case 'tuple':
      case 'set':
        for (let i = 0; i < v.items.length; i++) {
          if (mayHold(v.items[i])) walkAt(v.items[i], path, String(i), depth + 1);
        }
        break;
      case 'call':
        walkCall(v, path, depth);
        break;
      case 'persistent': {
        const r = storageOf(v);
        if (r && path.length > 0 && r.names.size < MAX_VIEWS) r.names.add(pathName(path));
        break;
      }
    }
    onPath.delete(v);
  }

  walk(root, [], 0);

  const storages = new Map<string, TorchStorage>();
  for (const [key, r] of raw) {
    const s: TorchStorage = {
      key,
      storageType: r.storageType,
      location: r.location,
      declaredNumel: r.declaredNumel,
      names: [...r.names].sort(),
      views: r.views,
    };
    if (!r.conflict) {
      const typed = storageDtype(r.storageType);
      if (typed !== undefined) {
        s.dtype = typed;
        s.numel = r.declaredNumel;
      } else if (isUntyped(r.storageType)) {
        // UntypedStorage counts bytes; the dtype, if any, comes from the tensors viewing it.
        const dtypes = new Set(r.views.map((x) => x.dtype ?? 'U8'));
        const dtype = dtypes.size === 0 ? 'U8' : dtypes.size === 1 ? [...dtypes][0] : undefined;
        const size = dtype === undefined ? undefined : elementSize(dtype);
        if (dtype !== undefined && size !== undefined && r.declaredNumel % size === 0) {
          s.dtype = dtype;
          s.numel = r.declaredNumel / size;
        }
      }
    }
    storages.set(key, s);
  }
  return { storages, tensors };
}

/** Whether a value can hold a tensor or storage (numbers, strings, floats and names cannot). */
function mayHold(v: PickleValue): boolean {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && v.type !== 'float' && v.type !== 'global';
}

/** A dict's entries as Python keeps them: a repeated string or int key replaces the earlier value. */
function live(entries: [PickleValue, PickleValue][]): [PickleValue, PickleValue][] {
  const last = new Map<string, number>();
  entries.forEach(([k], i) => {
    if (typeof k === 'string') last.set(`s${k}`, i);
    else if (typeof k === 'number' || typeof k === 'bigint') last.set(`n${k}`, i);
  });
  if (last.size === entries.length) return entries;
  return entries.filter(([k], i) => {
    const id = typeof k === 'string' ? `s${k}` : typeof k === 'number' || typeof k === 'bigint' ? `n${k}` : undefined;
    return id === undefined || last.get(id) === i;
  });
}

function storageDtype(type: string): string | undefined {
  const dot = type.lastIndexOf('.');
  if (!TORCH_MODULES.has(type.slice(0, dot))) return undefined;
  return STORAGE_DTYPES.get(type.slice(dot + 1));
}

function isUntyped(type: string): boolean {
  return type === 'torch.UntypedStorage' || type === 'torch.storage.UntypedStorage';
}

function intTuple(v: PickleValue): number[] | undefined {
  let items: PickleValue[];
  if (isObj(v, 'tuple') || isObj(v, 'list')) items = v.items;
  else if (isObj(v, 'call') && isObj(v.func, 'global') && v.func.global === 'torch.Size' && isObj(v.args, 'tuple') && v.args.items.length === 1) {
    return intTuple(v.args.items[0]);
  } else return undefined;
  const out: number[] = [];
  for (const x of items) {
    if (typeof x !== 'number' || !Number.isSafeInteger(x)) return undefined;
    out.push(x);
  }
  return out;
}

/** Characters of a string key kept in tensor names. */
const MAX_KEY_CHARS = 256;
/**
 * Views (and names) kept per storage, and path parts kept in a name: a hostile pickle can share
 * one object under thousands of keys, thousands of levels deep, to make naming cost
 * visits × depth in time and memory. Any dtype read from the views keeps the coding lossless.
 */
const MAX_VIEWS = 64;
const MAX_NAME_PARTS = 64;

/** A dotted tensor name from a path; very deep paths keep their first and last parts. */
function pathName(path: readonly string[]): string {
  if (path.length <= MAX_NAME_PARTS) return path.join('.');
  const half = MAX_NAME_PARTS / 2;
  return [...path.slice(0, half), '…', ...path.slice(path.length - half)].join('.');
}

/**
 * How a dict key appears in a tensor name: strings as they are, numbers in decimal, others
 * Python-like. Long strings and tuples are cut short: a hostile pickle can name many tensors with
 * one huge key, or share sub-tuples to make a key exponentially large when written out.
 */
function keyName(key: PickleValue): string {
  let budget = 64;
  const name = (k: PickleValue, depth: number): string => {
    if (typeof k === 'string') return k.length > MAX_KEY_CHARS ? `${k.slice(0, MAX_KEY_CHARS)}…` : k;
    if (typeof k === 'number' || typeof k === 'bigint') return String(k);
    if (typeof k === 'boolean') return k ? 'True' : 'False';
    if (k === null) return 'None';
    if (isObj(k, 'float')) return Number.isInteger(k.value) ? `${k.value}.0` : String(k.value);
    if (isObj(k, 'global')) return k.global;
    if (!isObj(k, 'tuple')) return '?';
    const parts: string[] = [];
    for (const item of k.items) {
      if (--budget < 0 || depth > 8) {
        parts.push('...');
        break;
      }
      parts.push(name(item, depth + 1));
    }
    return `(${parts.join(', ')})`;
  };
  return name(key, 0);
}
