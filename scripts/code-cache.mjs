// Makes V8's code cache of the bundled command (dist/src/bundle/cli.js.cache, read by main.js, see
// scripts/bundle-start.cjs): runs the commands most starts are for on a small generated checkpoint,
// each run adding the functions it compiled to the cache (docs/DESIGN.md, "Start-up"); main.js
// writes it, behind the checksum it checks before use.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BUNDLE = resolve('dist/src/bundle');
const CACHE = join(BUNDLE, 'cli.js.cache');

/** A safetensors file of one bf16 and one fp32 tensor of `n` elements, values varying with `seed`. */
function checkpoint(n, seed) {
  const header = JSON.stringify({
    a: { dtype: 'BF16', shape: [n], data_offsets: [0, 2 * n] },
    b: { dtype: 'F32', shape: [n], data_offsets: [2 * n, 6 * n] },
  });
  const data = new Float32Array(n).map((_, i) => Math.sin(i * 0.37 + seed) * 0.02);
  const bf16 = new Uint16Array(n).map((_, i) => new Uint32Array(data.buffer, 4 * i, 1)[0] >>> 16);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([size, Buffer.from(header), Buffer.from(bf16.buffer), Buffer.from(data.buffer)]);
}

rmSync(CACHE, { force: true });
const dir = mkdtempSync(join(tmpdir(), 'mithril-code-cache-'));
try {
  writeFileSync(join(dir, 'a.safetensors'), checkpoint(65536, 0));
  writeFileSync(join(dir, 'b.safetensors'), checkpoint(65536, 0.001));
  const mithril = (...args) => execFileSync(process.execPath, [join(BUNDLE, 'main.js'), ...args], { cwd: dir, env: { ...process.env, MITHRIL_WRITE_CODE_CACHE: CACHE }, stdio: ['ignore', 'ignore', 'inherit'] });
  mithril('compress', '-q', 'a.safetensors');
  mithril('decompress', '-q', '-o', 'a2.safetensors', 'a.safetensors.mth');
  mithril('compress', '-q', '--base', 'a.safetensors', 'b.safetensors');
  mithril('decompress', '-q', '--base', 'a.safetensors', '-o', 'b2.safetensors', 'b.safetensors.mth');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
