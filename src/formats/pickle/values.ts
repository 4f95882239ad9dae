/**
 * What a pickle unpickles to here: inert data. Calls, globals and persistent ids are records of
 * what Python would have done, never done; `isObj` tells the record kinds apart.
 */

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

/** Whether `v` is a record of the given kind (and narrows it to that kind). */
export function isObj<T extends Exclude<PickleValue, null | boolean | number | bigint | string | Uint8Array>['type']>(
  v: PickleValue,
  type: T,
): v is Extract<PickleValue, { type: T }> {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && v.type === type;
}
