// Compiles the hand-written WebAssembly text in src/**/wasm/*.wat to .wasm files beside the
// compiled JavaScript in dist/, where the modules load them from.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import wabt from 'wabt';

const root = new URL('..', import.meta.url).pathname;
const toolkit = await wabt();
for (const entry of readdirSync(join(root, 'src'), { recursive: true })) {
  if (!entry.endsWith('.wat')) continue;
  const source = join(root, 'src', entry);
  const module = toolkit.parseWat(source, readFileSync(source, 'utf8'), { simd: true });
  module.validate();
  const target = join(root, 'dist', 'src', entry.replace(/\.wat$/, '.wasm'));
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, module.toBinary({}).buffer);
  module.destroy();
  console.log(`wasm: ${relative(root, source)} -> ${relative(root, target)}`);
}
