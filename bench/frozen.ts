/**
 * Partly frozen fine-tunes, made from real checkpoints: gpt step 500 with the tensors a pattern
 * names taken from fine-tune step 10 (the rest frozen, bit-identical), each coded as a store's
 * second entry after step 500. `npm run build && node dist/bench/frozen.js`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { storeAdd } from '../src/store/store.js';

const shared = resolve(fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url)));
const base = join(shared, 'gpt/gpt_step500.bf16.safetensors');
const tuned = join(shared, 'finetune/ft_step10.bf16.safetensors');

function parse(path: string): { bytes: Buffer; header: Record<string, { data_offsets: [number, number] }>; data: number } {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  return { bytes, header: JSON.parse(bytes.subarray(8, 8 + length).toString()), data: 8 + length };
}

/** Step 500 with the tensors `trained` matches from step 10; the share of tensor bytes trained. */
function partlyFrozen(trained: RegExp, output: string): number {
  const [from, to] = [parse(base), parse(tuned)];
  const out = Buffer.from(from.bytes);
  let changed = 0;
  let total = 0;
  for (const [name, tensor] of Object.entries(from.header)) {
    if (name === '__metadata__') continue;
    const [start, end] = tensor.data_offsets;
    total += end - start;
    if (!trained.test(name)) continue;
    const [s, e] = to.header[name]!.data_offsets;
    to.bytes.copy(out, from.data + start, to.data + s, to.data + e);
    changed += end - start;
  }
  writeFileSync(output, out);
  return changed / total;
}

console.log('| trained tensors (rest frozen) | share of bytes trained | entry ratio in a store after step 500 |\n|---|---:|---:|');
for (const pattern of [/lm_head|ln_/, /h\.3\.|lm_head|ln_f/, /h\.[23]\.|lm_head|ln_f/]) {
  const root = mkdtempSync(join(tmpdir(), 'mithril-frozen-'));
  const file = join(root, 'tuned.safetensors');
  const share = partlyFrozen(pattern, file);
  await storeAdd(join(root, 'store'), base, { threads: 1 });
  const entry = await storeAdd(join(root, 'store'), file, { threads: 1 });
  console.log(`| \`${pattern.source}\` | ${(100 * share).toFixed(1)} % | ${(entry.size / entry.stored).toFixed(1)} |`);
  rmSync(root, { recursive: true });
}
