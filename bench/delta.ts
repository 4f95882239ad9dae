import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { encodeWith } from '../src/codec/coders.js';
import { splitByName } from '../src/codec/splits.js';
import { elementSize } from '../src/dtypes.js';
import { detectLayout } from '../src/formats/detect.js';
import { BufferSource } from '../src/io/source.js';
import { measureMithril, measureMithrilInMemory, type Codec, type FileCodec } from './measure.js';

/** A checkpoint and the earlier ones it is coded against (the base, then optionally an older one). */
export interface DeltaCase {
  title: string;
  file: string;
  bases: string[];
}

export interface DeltaResult {
  title: string;
  size: number;
  /** `--fast`: the quick delta coder. */
  fast: FileCodec;
  fastInMemory: Codec;
  /** The default: the strong (context-modelled) delta coder. */
  strong: FileCodec;
  strongInMemory: Codec;
  /** `--best`: with the low-rank sign model of the residuals. */
  best: FileCodec;
  /** XOR of each float tensor's bits with the base's, byte planes, zstd -1 (other bytes: zstd -1 alone). */
  xorZstd1Ratio: number;
}

/** The fixture chains of ../shared/fixtures/README.md. */
export function deltaCases(root: string): DeltaCase[] {
  const f = (path: string): string => join(root, path);
  const gpt = (step: number, dtype: string): string => f(`gpt/gpt_step${step}.${dtype}.safetensors`);
  const ft = (step: number): string => (step === 0 ? gpt(500, 'bf16') : f(`finetune/ft_step${step}.bf16.safetensors`));
  const pt = (step: number): string => (step === 500 ? gpt(500, 'bf16') : f(`frequent/pt_step${step}.bf16.safetensors`));
  return [
    { title: 'gpt 400→500 bf16', file: gpt(500, 'bf16'), bases: [gpt(400, 'bf16')] },
    { title: 'gpt 400→500 fp32', file: gpt(500, 'fp32'), bases: [gpt(400, 'fp32')] },
    { title: 'cnn 5→6 bf16', file: f('cnn/cnn_epoch6.bf16.safetensors'), bases: [f('cnn/cnn_epoch5.bf16.safetensors')] },
    { title: 'cnn 5→6 fp32', file: f('cnn/cnn_epoch6.fp32.safetensors'), bases: [f('cnn/cnn_epoch5.fp32.safetensors')] },
    { title: 'cnn 5→6 torch.save with SGD momentum', file: f('cnn/cnn_train_epoch6.pt'), bases: [f('cnn/cnn_train_epoch5.pt')] },
    { title: 'pre-training 500→510 bf16', file: pt(510), bases: [pt(500)] },
    { title: 'pre-training 510→520 bf16', file: pt(520), bases: [pt(510)] },
    { title: 'pre-training 510→520, 2 bases', file: pt(520), bases: [pt(510), pt(500)] },
    ...[10, 20, 30].map((step) => ({ title: `fine-tune ${step - 10}→${step} bf16`, file: ft(step), bases: [ft(step - 10)] })),
    ...[20, 30].map((step) => ({ title: `fine-tune ${step - 10}→${step}, 2 bases`, file: ft(step), bases: [ft(step - 10), ft(step - 20)] })),
  ];
}

/** The baseline every delta tool starts from: XOR with the base, byte planes, zstd -1. */
async function xorZstd1Size(file: Uint8Array, base: Uint8Array): Promise<number> {
  const layout = (await detectLayout(new BufferSource(file)));
  const baseTensors = new Map((await detectLayout(new BufferSource(base))).segments.flatMap((s) => (s.kind === 'tensor' ? [[s.name, s] as const] : [])));
  let total = 0;
  for (const segment of layout.segments) {
    let bytes = file.subarray(segment.offset, segment.offset + segment.length);
    let width = 1;
    if (segment.kind === 'tensor') {
      width = elementSize(segment.dtype) ?? 1;
      const paired = baseTensors.get(segment.name);
      if (paired && paired.dtype === segment.dtype && paired.length === segment.length) {
        const other = base.subarray(paired.offset, paired.offset + paired.length);
        bytes = bytes.map((b, i) => b ^ other[i]!);
      }
    }
    const split = splitByName(width === 1 ? 'bytes' : `bytes${width}`)!;
    for (const plane of split.split(bytes)) total += Math.min(plane.length, encodeWith('zstd1', plane).length);
  }
  return total;
}

export async function measureDelta(c: DeltaCase): Promise<DeltaResult> {
  const size = statSync(c.file).size;
  const fast = await measureMithril(c.file, size, c.bases, 'fast');
  const strong = await measureMithril(c.file, size, c.bases);
  const best = await measureMithril(c.file, size, c.bases, 'best');
  const file = readFileSync(c.file);
  const fastInMemory = await measureMithrilInMemory(file, c.bases, 'fast');
  const strongInMemory = await measureMithrilInMemory(file, c.bases);
  const xorZstd1Ratio = size / (await xorZstd1Size(file, readFileSync(c.bases[0]!)));
  return { title: `${c.title} (${basename(c.file)})`, size, fast, fastInMemory, strong, strongInMemory, best, xorZstd1Ratio };
}

export function deltaMarkdown(results: DeltaResult[]): string {
  return [
    '| delta | --fast ratio | file→file comp / decomp MiB/s | in memory | default (strong) ratio | file→file | in memory | --best ratio | file→file | peak RSS MiB | XOR + byte planes + zstd -1 ratio |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map((r) => {
      const speeds = (m: Codec): string => `${Math.round(m.compressMiBs)} / ${Math.round(m.decompressMiBs)}`;
      return (
        `| ${r.title} | ${r.fast.ratio.toFixed(4)} | ${speeds(r.fast)} | ${speeds(r.fastInMemory)} | ${r.strong.ratio.toFixed(4)} | ${speeds(r.strong)} | ${speeds(r.strongInMemory)} ` +
        `| ${r.best.ratio.toFixed(4)} | ${speeds(r.best)} | ${Math.round(Math.max(r.strong.peakRssMiB, r.best.peakRssMiB))} | ${r.xorZstd1Ratio.toFixed(4)} |`
      );
    }),
  ].join('\n');
}
