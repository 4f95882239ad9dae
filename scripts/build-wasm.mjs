// Compiles the hand-written WebAssembly text in src/kernels/ to dist/src/kernels/kernels.wasm, where
// src/kernels/index.ts loads it. One module, so that the kernel families of an instance share one
// memory: the text is src/kernels/module.wat (the memory) then each family file of FAMILIES, in
// that order, inside one `(module ...)`; each family file holds bare functions.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import wabt from 'wabt';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'src', 'kernels');
const FAMILIES = ['planes', 'ulp', 'residual', 'rans', 'lowrank'];
const files = ['module', ...FAMILIES].map((name) => join(dir, `${name}.wat`));

// A .wat file left out of the list would silently drop its kernels.
const unlisted = readdirSync(dir).filter((name) => name.endsWith('.wat') && !files.includes(join(dir, name)));
if (unlisted.length > 0) throw new Error(`build-wasm: ${unlisted.join(', ')} not in FAMILIES`);

// Each file's first line in the assembled text, to report an error at its file and line.
const parts = [];
let line = 2;
for (const file of files) {
  const text = readFileSync(file, 'utf8').replace(/\n?$/, '\n');
  parts.push({ file, line, text });
  line += text.split('\n').length - 1;
}
const where = (n) => {
  const part = parts.findLast((p) => p.line <= n);
  return part ? `${relative(root, part.file)}:${n - part.line + 1}` : `line ${n}`;
};

const toolkit = await wabt();
const source = `(module\n${parts.map((p) => p.text).join('')})\n`;
// Two builds of the one text: kernels.wasm with an ordinary memory, and kernels-shared.wasm with a
// shared one for the plane kernels' own instance (see module.wat and src/kernels/plane-memory.ts).
const MEMORY = '(memory (export "memory") 1)';
if (!source.includes(MEMORY)) throw new Error(`build-wasm: module.wat must declare ${MEMORY}`);
const builds = { 'kernels.wasm': source, 'kernels-shared.wasm': source.replace(MEMORY, '(memory (export "memory") 1 65536 shared)') };
const features = { simd: true, threads: true };
for (const [name, text] of Object.entries(builds)) {
  let module;
  try {
    module = toolkit.parseWat('kernels.wat', text, features);
    module.validate(features);
  } catch (error) {
    throw new Error(String(error instanceof Error ? error.message : error).replace(/kernels\.wat:(\d+):\d+/g, (_, n) => where(Number(n))));
  }
  const target = join(root, 'dist', 'src', 'kernels', name);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, module.toBinary({}).buffer);
  module.destroy();
}
console.log(`wasm: ${files.map((file) => relative(dir, file)).join(' + ')} -> dist/src/kernels/${Object.keys(builds).join(', ')}`);
