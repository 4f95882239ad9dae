import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { bitSplit16 } from './dist/src/codec/planes.js';
const b = createRequire(import.meta.url)('zstd-napi/binding.js');
const f = readFileSync('/tmp/big.bf16.safetensors');
const P = b.CParameter;
const size = 262144;
const planes = []; for (let i = 0; i < 64; i++) planes.push(bitSplit16.split(new Uint8Array(f.subarray(200000 + i * 2 * size, 200000 + (i + 1) * 2 * size)))[0]);
const dst = new Uint8Array(b.compressBound(size));
const run = (name, setup, list = planes, reps = 10) => {
  const c = new b.CCtx(); setup(c);
  let tot = 0, out = 0; const t = performance.now();
  for (let r = 0; r < reps; r++) for (const p of list) { out += c.compress2(dst, p); tot += p.length; }
  console.log(name, (tot / out).toFixed(4), (tot / 1048576 / ((performance.now() - t) / 1000)).toFixed(0), 'MiB/s');
};
run('huf varied', c => { c.setParameter(P.compressionLevel, -500); c.setParameter(1002, 1); });
run('huf same', c => { c.setParameter(P.compressionLevel, -500); c.setParameter(1002, 1); }, [planes[5]], 640);
run('nohuf -500', c => { c.setParameter(P.compressionLevel, -500); });
run('huf -500 no contentsize', c => { c.setParameter(P.compressionLevel, -500); c.setParameter(1002, 1); c.setParameter(P.contentSizeFlag, 0); });
run('huf -50', c => { c.setParameter(P.compressionLevel, -50); c.setParameter(1002, 1); });
run('huf -500 targetCBlock', c => { c.setParameter(P.compressionLevel, -500); c.setParameter(1002, 1); c.setParameter(P.strategy, 1); });
