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
 * MARKs nest at most MAX_MARK_DEPTH deep.
 */

import { MAX_MARK_DEPTH } from '../../limits.js';
import { isObj, PickleError, type PickleCall, type PickleDict, type PickleGlobal, type PickleValue } from './values.js';

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
  /** A little-endian fixed-size argument. */
  function fixed<T>(size: number, read: (at: number) => T): T {
    need(size, 'argument');
    const v = read(pos);
    pos += size;
    return v;
  }
  const u16 = (): number => fixed(2, (at) => dv.getUint16(at, true));
  const u32 = (): number => fixed(4, (at) => dv.getUint32(at, true));
  const i32 = (): number => fixed(4, (at) => dv.getInt32(at, true));
  const u64 = (): bigint => fixed(8, (at) => dv.getBigUint64(at, true));
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

function describe(v: PickleValue): string {
  if (v === null) return 'None';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return v.type === 'global' ? `global ${JSON.stringify(v.global.slice(0, 80))}` : v.type;
  return typeof v;
}
