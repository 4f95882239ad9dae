import { readFileSync } from 'node:fs';
import { readSafetensorsLayout } from './dist/src/formats/safetensors.js';
import { BufferSource } from './dist/src/io/source.js';
import { planChunks } from './dist/src/chunks.js';
import { encodeChunk, TENSOR_CODERS } from './dist/src/codec/pipeline.js';
import { splitForDtype } from './dist/src/codec/dtypes.js';
const bytes = readFileSync('/tmp/big.bf16.safetensors');
const chunks = planChunks(readSafetensorsLayout(new BufferSource(bytes))).filter(c => c.dtype);
const sizes = {}; for (const c of chunks) sizes[c.length] = (sizes[c.length] || 0) + 1;
console.log(chunks.length, 'chunks; sizes', JSON.stringify(sizes));
for (let rep = 0; rep < 3; rep++) {
  const t = performance.now(); const coders = {};
  for (const c of chunks) { const e = encodeChunk(bytes.subarray(c.offset, c.offset + c.length), splitForDtype(c.dtype), { candidates: TENSOR_CODERS, exhaustive: false });
    for (const s of e.streams) coders[s.coder] = (coders[s.coder] || 0) + s.rawLength; }
  console.log('MiB/s', (bytes.length / 1048576 / ((performance.now() - t) / 1000)).toFixed(0), JSON.stringify(coders));
}
