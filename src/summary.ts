import { splitByName } from './codec/splits.js';
import type { ContainerIndex } from './container/format.js';

export interface SizeStat {
  original: number;
  compressed: number;
}

export interface PlaneStat extends SizeStat {
  dtype: string;
  plane: string;
  /** Original bytes coded by each coder. */
  coders: Record<string, number>;
}

export interface Summary {
  format: string;
  source: ContainerIndex['source'];
  /** The earlier checkpoints this file was delta-coded against (needed to decode it). */
  bases: NonNullable<ContainerIndex['bases']>;
  compressedSize: number;
  tensors: { name: string; dtype: string; shape: number[]; bytes: number }[];
  dtypes: (SizeStat & { dtype: string; tensors: number })[];
  planes: PlaneStat[];
}

/** Sizes per dtype and per plane, computed from the index alone (as readIndex returns it). Opaque bytes count as dtype "opaque". */
export function summarize({ index, compressedSize }: { index: ContainerIndex; compressedSize: number }): Summary {
  const dtypes = new Map<string, SizeStat & { dtype: string; tensors: number }>();
  const planes = new Map<string, PlaneStat>();
  const dtypeStat = (dtype: string) => {
    let stat = dtypes.get(dtype);
    if (!stat) dtypes.set(dtype, (stat = { dtype, tensors: 0, original: 0, compressed: 0 }));
    return stat;
  };
  for (const segment of index.segments) {
    if (segment.kind === 'tensor') dtypeStat(segment.dtype).tensors++;
  }

  // Chunks and segments are both in file order: walk them together to find each chunk's dtype.
  let s = 0;
  for (const chunk of index.chunks) {
    while (index.segments[s]!.offset + index.segments[s]!.length <= chunk.rawOffset) s++;
    const segment = index.segments[s]!;
    const dtype = segment.kind === 'tensor' ? segment.dtype : 'opaque';
    const stat = dtypeStat(dtype);
    const names = chunk.delta?.coding === 'rans'
      ? ['delta residual (rANS)']
      : splitByName(chunk.split)!.planeNames.map((name) => (chunk.delta ? `delta residual ${name}` : name));
    for (const [k, stream] of chunk.streams.entries()) {
      const plane = names[k] ?? 'tail';
      const key = `${dtype}\0${plane}`;
      let planeStat = planes.get(key);
      if (!planeStat) planes.set(key, (planeStat = { dtype, plane, original: 0, compressed: 0, coders: {} }));
      planeStat.original += stream.rawLength;
      planeStat.compressed += stream.codedLength;
      planeStat.coders[stream.coder] = (planeStat.coders[stream.coder] ?? 0) + stream.rawLength;
      stat.original += stream.rawLength;
      stat.compressed += stream.codedLength;
    }
  }
  return {
    format: index.format,
    source: index.source,
    bases: index.bases ?? [],
    compressedSize,
    tensors: index.segments.flatMap((seg) => (seg.kind === 'tensor' ? [{ name: seg.name, dtype: seg.dtype, shape: seg.shape, bytes: seg.length }] : [])),
    dtypes: [...dtypes.values()],
    planes: [...planes.values()],
  };
}
