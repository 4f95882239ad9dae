/**
 * Keyframe policy of a store, measured on the shared fixtures' chains:
 * `npm run build && node dist/bench/store-policy.js`. For each --max-depth: every entry's depth,
 * the history ratio over every file of the store, and the best of 5 restores of the deepest entry
 * (one thread, in this process). Then skip-deltas (entry i coded against entry i & (i - 1) and that
 * one's base, so depth grows as log2 of the run's length), hand-chained with compressFile: ratio
 * and depths only; a restore at each depth costs what the same depth costs in the rows above.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compressFile } from '../src/files.js';
import { storeAdd, storeGet, storeList } from '../src/store/store.js';

const shared = resolve(fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url)));
const chains: Record<string, string[]> = {
  'pre-training gpt 400 → 500 → pt 510 → 520': ['gpt/gpt_step400', 'gpt/gpt_step500', 'frequent/pt_step510', 'frequent/pt_step520'],
  'fine-tune gpt 500 → ft 10 → 20 → 30': ['gpt/gpt_step500', 'finetune/ft_step10', 'finetune/ft_step20', 'finetune/ft_step30'],
};
const bytes = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => sum + (e.isDirectory() ? bytes(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);

console.log('| chain (bf16) | --max-depth | depths | history ratio | deepest restore ms |\n|---|---:|---|---:|---:|');
for (const [title, names] of Object.entries(chains)) {
  const files = names.map((name) => join(shared, `${name}.bf16.safetensors`));
  for (const maxDepth of [0, 1, 2, 8]) {
    const root = mkdtempSync(join(tmpdir(), 'mithril-policy-'));
    const dir = join(root, 'store');
    for (const file of files) await storeAdd(dir, file, { maxDepth, threads: 1 });
    const entries = await storeList(dir);
    const deepest = entries.reduce((a, b) => (b.depth >= a.depth ? b : a));
    let best = Infinity;
    for (let run = 0; run < 5; run++) {
      const started = performance.now();
      await storeGet(dir, deepest.name, { output: join(root, 'restored'), force: true, threads: 1 });
      best = Math.min(best, performance.now() - started);
    }
    const original = files.reduce((sum, file) => sum + statSync(file).size, 0);
    console.log(`| ${title} | ${maxDepth} | ${entries.map((e) => e.depth).join(' ')} | ${(original / bytes(dir)).toFixed(3)} | ${best.toFixed(0)} |`);
    rmSync(root, { recursive: true });
  }
}

console.log('\n| chain (bf16) | policy | depths | history ratio (containers only) |\n|---|---|---|---:|');
for (const [title, names] of Object.entries(chains)) {
  const files = names.map((name) => join(shared, `${name}.bf16.safetensors`));
  const root = mkdtempSync(join(tmpdir(), 'mithril-policy-'));
  const baseOf = (i: number): number | undefined => (i === 0 ? undefined : i & (i - 1));
  const depthOf = (i: number): number => (i === 0 ? 0 : 1 + depthOf(baseOf(i)!));
  let stored = 0;
  for (const [i, file] of files.entries()) {
    const base = baseOf(i);
    const older = base === undefined ? undefined : baseOf(base);
    const bases = [base, older].flatMap((b) => (b === undefined ? [] : [files[b]!]));
    stored += (await compressFile(file, { output: join(root, `${i}.mth`), bases, threads: 1 })).compressedSize;
  }
  const original = files.reduce((sum, file) => sum + statSync(file).size, 0);
  console.log(`| ${title} | skip-deltas | ${files.map((_, i) => depthOf(i)).join(' ')} | ${(original / stored).toFixed(3)} |`);
  rmSync(root, { recursive: true });
}
