import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { bitSplit16 } from './dist/src/codec/planes.js';
const b = createRequire(import.meta.url)('zstd-napi/binding.js');
const f = readFileSync('/tmp/big.bf16.safetensors');
const P = b.CParameter;
for (const size of [65536, 262144]) {
  const planes = []; for (let i = 0; i < 64; i++) planes.push(bitSplit16.split(new Uint8Array(f.subarray(200000 + i * 2 * size, 200000 + (i + 1) * 2 * size)))[0]);
  const dst = new Uint8Array(b.compressBound(size));
  for (const [name, small] of [['huf', false], ['huf-small-tables', true]]) {
    const c = new b.CCtx(); c.setParameter(P.compressionLevel, -500); c.setParameter(1002, 1);
    if (small) { c.setParameter(P.windowLog, 10); c.setParameter(P.hashLog, 6); c.setParameter(P.chainLog, 6); c.setParameter(P.searchLog, 1); c.setParameter(P.minMatch, 7); }
    let tot = 0, out = 0; const t = performance.now();
    for (let r = 0; r < 10; r++) for (const p of planes) { out += c.compress2(dst, p); tot += p.length; }
    console.log(size, name, (tot / out).toFixed(4), (tot / 1048576 / ((performance.now() - t) / 1000)).toFixed(0), 'MiB/s');
  }
}
