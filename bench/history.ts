import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeAdd, storeGet, storeList } from '../src/store/store.js';

const MiB = 1024 * 1024;

/** A training run's checkpoints in order, kept as one store. */
export interface HistoryCase {
  title: string;
  files: string[];
  /** A model outside the store the run starts from (`--reference`), not counted in its size. */
  reference?: string;
}

export interface HistoryResult {
  title: string;
  entries: number;
  originalBytes: number;
  /** Every file of the store: containers, records and header. */
  storeBytes: number;
  addMiBs: number;
  deepest: { name: string; depth: number; seconds: number; peakRssMiB: number };
}

export function historyCases(shared: string): HistoryCase[] {
  const f = (name: string): string => join(shared, name);
  return [
    { title: 'fine-tune: gpt 500, then ft 10, 20, 30 (bf16)', files: ['gpt/gpt_step500.bf16.safetensors', 'finetune/ft_step10.bf16.safetensors', 'finetune/ft_step20.bf16.safetensors', 'finetune/ft_step30.bf16.safetensors'].map(f) },
    { title: 'fine-tune, gpt 500 as --reference: ft 10, 20, 30 (bf16)', files: ['finetune/ft_step10.bf16.safetensors', 'finetune/ft_step20.bf16.safetensors', 'finetune/ft_step30.bf16.safetensors'].map(f), reference: f('gpt/gpt_step500.bf16.safetensors') },
    { title: 'pre-training every 10 steps: gpt 500, pt 510, 520 (bf16)', files: ['gpt/gpt_step500.bf16.safetensors', 'frequent/pt_step510.bf16.safetensors', 'frequent/pt_step520.bf16.safetensors'].map(f) },
  ];
}

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => sum + (e.isDirectory() ? folderBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);
}

/** Adds the run's checkpoints to a fresh store with the defaults, one thread; returns the store for `restoreDeepest`. */
export async function measureHistoryAdds(c: HistoryCase): Promise<{ dir: string; result: Omit<HistoryResult, 'deepest'> }> {
  const dir = join(mkdtempSync(join(tmpdir(), 'mithril-bench-history-')), 'store');
  const started = performance.now();
  for (const file of c.files) await storeAdd(dir, file, { threads: 1, reference: c.reference });
  const seconds = (performance.now() - started) / 1000;
  const originalBytes = c.files.reduce((sum, file) => sum + statSync(file).size, 0);
  return { dir, result: { title: c.title, entries: c.files.length, originalBytes, storeBytes: folderBytes(dir), addMiBs: originalBytes / MiB / seconds } };
}

/** Restores the store's deepest entry in this (fresh) process: its time and the process's peak RSS. */
export async function restoreDeepest(dir: string): Promise<HistoryResult['deepest']> {
  const deepest = (await storeList(dir)).reduce((a, b) => (b.depth > a.depth ? b : a));
  const output = join(dir, '..', 'restored');
  const started = performance.now();
  await storeGet(dir, deepest.name, { output, threads: 1 });
  const seconds = (performance.now() - started) / 1000;
  rmSync(join(dir, '..'), { recursive: true, force: true });
  return { name: deepest.name, depth: deepest.depth, seconds, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
}

export function historyMarkdown(results: HistoryResult[]): string {
  return [
    '| history (store defaults: --strong, automatic bases, -T 1) | entries | original MiB | store MiB (all files) | history ratio | add MiB/s | deepest entry: depth, restore s, peak RSS MiB |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...results.map((r) => `| ${r.title} | ${r.entries} | ${(r.originalBytes / MiB).toFixed(2)} | ${(r.storeBytes / MiB).toFixed(2)} | ${(r.originalBytes / r.storeBytes).toFixed(3)} | ${Math.round(r.addMiBs)} | ${r.deepest.depth}, ${r.deepest.seconds.toFixed(3)}, ${Math.round(r.deepest.peakRssMiB)} |`),
  ].join('\n');
}
