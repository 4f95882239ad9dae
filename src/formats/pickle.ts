/**
 * A safe reader of Python pickles (protocols 0–5, binary opcodes), enough for the `data.pkl` of a
 * `torch.save` archive. It never imports, looks up or calls anything: GLOBAL and STACK_GLOBAL only
 * record the name, REDUCE / NEWOBJ / INST / OBJ build an inert record of the call, BUILD attaches
 * the state to that record, and persistent ids (torch's storages) are kept as they are.
 *
 * Supported opcodes (anything else, e.g. the text STRING/UNICODE opcodes, EXT1/2/4 or NEXT_BUFFER,
 * throws a PickleError; so does any malformed or truncated stream):
 *
 * | group | opcodes |
 * |---|---|
 * | framing | PROTO (0x80, version ≤ 5), FRAME (0x95), STOP (.) |
 * | stack | MARK ((), POP (0), POP_MARK (1), DUP (2) |
 * | memo | PUT (p), BINPUT (q), LONG_BINPUT (r), MEMOIZE (0x94), GET (g), BINGET (h), LONG_BINGET (j) |
 * | constants | NONE (N), NEWTRUE (0x88), NEWFALSE (0x89) |
 * | numbers | INT (I), BININT (J), BININT1 (K), BININT2 (M), LONG (L), LONG1 (0x8a), LONG4 (0x8b), FLOAT (F), BINFLOAT (G) |
 * | strings | BINUNICODE (X), SHORT_BINUNICODE (0x8c), BINUNICODE8 (0x8d), BINSTRING (T), SHORT_BINSTRING (U) |
 * | bytes | BINBYTES (B), SHORT_BINBYTES (C), BINBYTES8 (0x8e), BYTEARRAY8 (0x96), READONLY_BUFFER (0x98) |
 * | tuples | EMPTY_TUPLE ()), TUPLE (t), TUPLE1 (0x85), TUPLE2 (0x86), TUPLE3 (0x87) |
 * | lists | EMPTY_LIST (]), LIST (l), APPEND (a), APPENDS (e) |
 * | dicts | EMPTY_DICT (}), DICT (d), SETITEM (s), SETITEMS (u) |
 * | sets | EMPTY_SET (0x8f), ADDITEMS (0x90), FROZENSET (0x91) |
 * | objects (recorded, never run) | GLOBAL (c), STACK_GLOBAL (0x93), REDUCE (R), NEWOBJ (0x81), NEWOBJ_EX (0x92), INST (i), OBJ (o), BUILD (b) |
 * | persistent ids | PERSID (P), BINPERSID (Q) |
 *
 * Limits: every length is checked against the bytes left before anything is read or allocated;
 * MARKs nest at most MAX_MARK_DEPTH deep; the interpretation walks objects at most MAX_WALK_DEPTH
 * deep and visits at most (data length + 100000) objects (so shared references cannot explode).
 */

import { elementSize } from '../dtypes.js';
import { MAX_MARK_DEPTH, MAX_WALK_DEPTH } from '../limits.js';
export { MAX_MARK_DEPTH, MAX_WALK_DEPTH };

export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleFloat
  | PickleList
  | PickleTuple
  | PickleDict
  | PickleSet
  | PickleGlobal
  | PickleCall
  | PicklePersistent;

export interface PickleFloat {
  type: 'float';
  value: number;
}
export interface PickleList {
  type: 'list';
  items: PickleValue[];
}
export interface PickleTuple {
  type: 'tuple';
  items: PickleValue[];
}
export interface PickleDict {
  type: 'dict';
  entries: [PickleValue, PickleValue][];
}
export interface PickleSet {
  type: 'set';
  frozen: boolean;
  items: PickleValue[];
}
/** A GLOBAL / STACK_GLOBAL: only the name, e.g. "torch._utils._rebuild_tensor_v2". */
export interface PickleGlobal {
  type: 'global';
  module: string;
  name: string;
  global: string;
}
/** An inert record of REDUCE (func(*args)), NEWOBJ (cls.__new__(cls, *args)), INST or OBJ, with what was added to it later. */
export interface PickleCall {
  type: 'call';
  func: PickleValue;
  args: PickleValue;
  kwargs?: PickleValue;
  via: 'reduce' | 'newobj' | 'inst';
  /** BUILD states, in order. */
  state: PickleValue[];
  /** APPEND(S) on the result (a list subclass, ...). */
  listItems: PickleValue[];
  /** SETITEM(S) on the result (OrderedDict, defaultdict, ...). */
  dictItems: [PickleValue, PickleValue][];
}
export interface PicklePersistent {
  type: 'persistent';
  id: PickleValue;
}

// Opcodes.
const MARK = 0x28, STOP = 0x2e, POP = 0x30, POP_MARK = 0x31, DUP = 0x32, FLOAT = 0x46, INT = 0x49,
  BININT = 0x4a, BININT1 = 0x4b, LONG = 0x4c, BININT2 = 0x4d, NONE = 0x4e, PERSID = 0x50, BINPERSID = 0x51,
  REDUCE = 0x52, BINSTRING = 0x54, SHORT_BINSTRING = 0x55, BINUNICODE = 0x58, APPEND = 0x61, BUILD = 0x62,
  GLOBAL = 0x63, DICT = 0x64, EMPTY_DICT = 0x7d, APPENDS = 0x65, GET = 0x67, BINGET = 0x68, INST = 0x69,
  LONG_BINGET = 0x6a, LIST = 0x6c, EMPTY_LIST = 0x5d, OBJ = 0x6f, PUT = 0x70, BINPUT = 0x71,
  LONG_BINPUT = 0x72, SETITEM = 0x73, TUPLE = 0x74, EMPTY_TUPLE = 0x29, SETITEMS = 0x75, BINFLOAT = 0x47,
  PROTO = 0x80, NEWOBJ = 0x81, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88,
  NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b, BINBYTES = 0x42, SHORT_BINBYTES = 0x43,
  SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f, ADDITEMS = 0x90,
  FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
  BYTEARRAY8 = 0x96, READONLY_BUFFER = 0x98;

const utf8 = new TextDecoder('utf-8');
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const latin1 = new TextDecoder('latin1');

/** Parses a pickle without executing anything; throws PickleError on anything it cannot follow. */
export function parsePickle(data: Uint8Array): PickleValue {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = data.length;
  let pos = 0;
  let stack: PickleValue[] = [];
  const metastack: PickleValue[][] = [];
  const memo = new Map<number, PickleValue>();
  let opPos = 0;

  function fail(problem: string): never {
    throw new PickleError(`pickle offset ${opPos}: ${problem}`);
  }
  function need(count: number | bigint, what: string): number {
    if (typeof count === 'bigint' ? count > BigInt(n - pos) : count > n - pos) {
      fail(`${what} declares ${count} bytes but only ${n - pos} remain`);
    }
    return Number(count);
  }
  function take(count: number | bigint, what: string): Uint8Array {
    const c = need(count, what);
    const out = data.subarray(pos, pos + c);
    pos += c;
    return out;
  }
  function u8(): number {
    need(1, 'argument');
    return data[pos++];
  }
  function u16(): number {
    need(2, 'argument');
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  }
  function u32(): number {
    need(4, 'argument');
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  }
  function i32(): number {
    need(4, 'argument');
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  }
  function u64(): bigint {
    need(8, 'argument');
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    return v;
  }
  function line(): string {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('text argument has no end of line');
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  }
  function pop(): PickleValue {
    if (stack.length === 0) fail('stack underflow');
    return stack.pop() as PickleValue;
  }
  function top(): PickleValue {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  }
  function popMark(): PickleValue[] {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) fail('no MARK to pop to');
    stack = prev;
    return items;
  }
  function memoKey(text: string): number {
    if (!/^\d{1,15}$/.test(text)) fail(`bad memo key ${JSON.stringify(text)}`);
    return Number(text);
  }
  function get(key: number): void {
    if (!memo.has(key)) fail(`memo key ${key} was never stored`);
    stack.push(memo.get(key) as PickleValue);
  }
  function global(module: string, name: string): PickleGlobal {
    return { type: 'global', module, name, global: `${module}.${name}` };
  }
  function call(func: PickleValue, args: PickleValue, via: PickleCall['via'], kwargs?: PickleValue): PickleCall {
    const c: PickleCall = { type: 'call', func, args, via, state: [], listItems: [], dictItems: [] };
    if (kwargs !== undefined) c.kwargs = kwargs;
    return c;
  }
  function append(target: PickleValue, items: PickleValue[]): void {
    if (isObj(target, 'list')) pushAll(target.items, items);
    else if (isObj(target, 'call')) pushAll(target.listItems, items);
    else fail(`APPEND to ${describe(target)}`);
  }
  function setItems(target: PickleValue, items: PickleValue[]): void {
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    let entries: [PickleValue, PickleValue][];
    if (isObj(target, 'dict')) entries = target.entries;
    else if (isObj(target, 'call')) entries = target.dictItems;
    else fail(`SETITEM on ${describe(target)}`);
    for (let i = 0; i < items.length; i += 2) entries.push([items[i], items[i + 1]]);
  }
  function long(bytes: Uint8Array): number | bigint {
    if (bytes.length === 0) return 0;
    // Via hex: linear time however long the number (shifting byte by byte would be quadratic).
    let hex = '';
    for (let i = bytes.length - 1; i >= 0; i--) hex += HEX[bytes[i]];
    let v = BigInt('0x' + hex);
    if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length);
    return small(v);
  }
  function decimal(text: string): number | bigint {
    // Python also refuses decimal integers over 4300 digits (sys.int_info.default_max_str_digits).
    if (text.length > 4300 || !/^[+-]?\d+$/.test(text)) fail(`bad integer ${JSON.stringify(text.slice(0, 40))}`);
    return small(BigInt(text));
  }

  while (true) {
    opPos = pos;
    if (pos >= n) fail('truncated: no STOP opcode');
    const op = data[pos++];
    switch (op) {
      case PROTO: {
        const v = u8();
        if (v > 5) fail(`unsupported pickle protocol ${v}`);
        break;
      }
      case FRAME:
        need(u64(), 'FRAME');
        break;
      case STOP:
        return pop();
      case MARK:
        if (metastack.length >= MAX_MARK_DEPTH) fail(`MARKs nested deeper than ${MAX_MARK_DEPTH}`);
        metastack.push(stack);
        stack = [];
        break;
      case POP:
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case POP_MARK:
        popMark();
        break;
      case DUP:
        stack.push(top());
        break;

      case PUT:
        memo.set(memoKey(line()), top());
        break;
      case BINPUT:
        memo.set(u8(), top());
        break;
      case LONG_BINPUT:
        memo.set(u32(), top());
        break;
      case MEMOIZE:
        memo.set(memo.size, top());
        break;
      case GET:
        get(memoKey(line()));
        break;
      case BINGET:
        get(u8());
        break;
      case LONG_BINGET:
        get(u32());
        break;

      case NONE:
        stack.push(null);
        break;
      case NEWTRUE:
        stack.push(true);
        break;
      case NEWFALSE:
        stack.push(false);
        break;

      case INT: {
        const text = line();
        stack.push(text === '00' ? false : text === '01' ? true : decimal(text));
        break;
      }
      case BININT:
        stack.push(i32());
        break;
      case BININT1:
        stack.push(u8());
        break;
      case BININT2:
        stack.push(u16());
        break;
      case LONG: {
        const text = line();
        stack.push(decimal(text.endsWith('L') ? text.slice(0, -1) : text));
        break;
      }
      case LONG1:
        stack.push(long(take(u8(), 'LONG1')));
        break;
      case LONG4: {
        const len = i32();
        if (len < 0) fail('LONG4 with a negative length');
        stack.push(long(take(len, 'LONG4')));
        break;
      }
      case FLOAT: {
        const text = line();
        const value = Number(text);
        if (text.trim() === '' || (Number.isNaN(value) && !/^[+-]?nan$/i.test(text))) fail(`bad float ${JSON.stringify(text.slice(0, 40))}`);
        stack.push({ type: 'float', value });
        break;
      }
      case BINFLOAT: {
        need(8, 'BINFLOAT');
        stack.push({ type: 'float', value: dv.getFloat64(pos, false) });
        pos += 8;
        break;
      }

      case BINUNICODE:
        stack.push(utf8.decode(take(u32(), 'BINUNICODE')));
        break;
      case SHORT_BINUNICODE:
        stack.push(utf8.decode(take(u8(), 'SHORT_BINUNICODE')));
        break;
      case BINUNICODE8:
        stack.push(utf8.decode(take(u64(), 'BINUNICODE8')));
        break;
      case BINSTRING: {
        const len = i32();
        if (len < 0) fail('BINSTRING with a negative length');
        stack.push(latin1.decode(take(len, 'BINSTRING')));
        break;
      }
      case SHORT_BINSTRING:
        stack.push(latin1.decode(take(u8(), 'SHORT_BINSTRING')));
        break;
      case BINBYTES:
        stack.push(take(u32(), 'BINBYTES'));
        break;
      case SHORT_BINBYTES:
        stack.push(take(u8(), 'SHORT_BINBYTES'));
        break;
      case BINBYTES8:
        stack.push(take(u64(), 'BINBYTES8'));
        break;
      case BYTEARRAY8:
        stack.push(take(u64(), 'BYTEARRAY8'));
        break;
      case READONLY_BUFFER:
        top();
        break;

      case EMPTY_TUPLE:
        stack.push({ type: 'tuple', items: [] });
        break;
      case TUPLE: {
        const items = popMark(); // before `stack` is read: popMark replaces it
        stack.push({ type: 'tuple', items });
        break;
      }
      case TUPLE1: {
        const a = pop();
        stack.push({ type: 'tuple', items: [a] });
        break;
      }
      case TUPLE2: {
        const b = pop();
        const a = pop();
        stack.push({ type: 'tuple', items: [a, b] });
        break;
      }
      case TUPLE3: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push({ type: 'tuple', items: [a, b, c] });
        break;
      }

      case EMPTY_LIST:
        stack.push({ type: 'list', items: [] });
        break;
      case LIST: {
        const items = popMark();
        stack.push({ type: 'list', items });
        break;
      }
      case APPEND: {
        const v = pop();
        append(top(), [v]);
        break;
      }
      case APPENDS: {
        const items = popMark();
        append(top(), items);
        break;
      }

      case EMPTY_DICT:
        stack.push({ type: 'dict', entries: [] });
        break;
      case DICT: {
        const d: PickleDict = { type: 'dict', entries: [] };
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case SETITEM: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case SETITEMS: {
        const items = popMark();
        setItems(top(), items);
        break;
      }

      case EMPTY_SET:
        stack.push({ type: 'set', frozen: false, items: [] });
        break;
      case ADDITEMS: {
        const items = popMark();
        const target = top();
        if (!isObj(target, 'set') || target.frozen) fail(`ADDITEMS on ${describe(target)}`);
        pushAll(target.items, items);
        break;
      }
      case FROZENSET: {
        const items = popMark();
        stack.push({ type: 'set', frozen: true, items });
        break;
      }

      case GLOBAL: {
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case STACK_GLOBAL: {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL with non-string module or name');
        stack.push(global(module, name));
        break;
      }
      case REDUCE: {
        const args = pop();
        const func = pop();
        stack.push(call(func, args, 'reduce'));
        break;
      }
      case NEWOBJ: {
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args, 'newobj'));
        break;
      }
      case NEWOBJ_EX: {
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args, 'newobj', kwargs));
        break;
      }
      case INST: {
        const module = line();
        const name = line();
        const args = popMark();
        stack.push(call(global(module, name), { type: 'tuple', items: args }, 'inst'));
        break;
      }
      case OBJ: {
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        stack.push(call(items[0], { type: 'tuple', items: items.slice(1) }, 'inst'));
        break;
      }
      case BUILD: {
        const state = pop();
        const target = top();
        if (!isObj(target, 'call')) fail(`BUILD on ${describe(target)}`);
        target.state.push(state);
        break;
      }

      case PERSID:
        stack.push({ type: 'persistent', id: line() });
        break;
      case BINPERSID:
        stack.push({ type: 'persistent', id: pop() });
        break;

      default:
        fail(`unsupported opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

function pushAll(target: PickleValue[], items: PickleValue[]): void {
  for (const item of items) target.push(item);
}

function small(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function isObj<T extends Exclude<PickleValue, null | boolean | number | bigint | string | Uint8Array>['type']>(
  v: PickleValue,
  type: T,
): v is Extract<PickleValue, { type: T }> {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && v.type === type;
}

function describe(v: PickleValue): string {
  if (v === null) return 'None';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return v.type === 'global' ? `global ${JSON.stringify(v.global.slice(0, 80))}` : v.type;
  return typeof v;
}

// ---------------------------------------------------------------------------------------------
// Interpretation for torch.save: which storages exist, their dtype, and the tensors viewing them.

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
