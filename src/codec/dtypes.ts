import { elementSize } from '../dtypes.js';
import type { PlaneSplit } from './planes.js';
import { splitByName } from './splits.js';

/** How a tensor of this dtype is split into planes before entropy coding. */
export function splitForDtype(dtype: string): PlaneSplit {
  switch (dtype) {
    case 'BF16':
    // fp16 shares bf16's bit split: slightly smaller than plain byte planes (docs/DESIGN.md).
    case 'F16':
      return splitByName('bits16')!;
    case 'F32':
      return splitByName('bits32')!;
    default: {
      const size = elementSize(dtype) ?? 1;
      return splitByName(size === 1 ? 'bytes' : `bytes${size}`)!;
    }
  }
}
