import { bitSplit16, bitSplit32, bytePlanes, identity, type PlaneSplit } from './planes.js';
import { simdBitSplit16, simdBitSplit32, simdBytePlanes } from './simd-planes.js';

/** Every plane split by the name the container records; all but `bytes8` run on WebAssembly SIMD. */
const SPLITS = new Map<string, PlaneSplit>(
  [identity, simdBitSplit16(bitSplit16), simdBitSplit32(bitSplit32), simdBytePlanes(bytePlanes(2)), simdBytePlanes(bytePlanes(4)), bytePlanes(8)].map((s) => [s.name, s]),
);

export function splitByName(name: string): PlaneSplit | undefined {
  return SPLITS.get(name);
}
