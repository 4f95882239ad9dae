// The command line bundled into dist/src/bundle/: a few files for Node's ES module loader to read
// instead of about 80, which is most of a small command's start-up (docs/DESIGN.md, "Start-up").
// The worker is bundled beside it and the WebAssembly copied there, so that the URLs the code
// builds from import.meta.url (./worker.js, ./kernels.wasm) hold in the bundle as in dist/src.
import { build } from 'esbuild';
import { copyFileSync, rmSync } from 'node:fs';

const OUT = 'dist/src/bundle';
rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: { main: 'dist/src/cli/main.js', worker: 'dist/src/parallel/worker.js' },
  outdir: OUT,
  bundle: true,
  // Lazily loaded parts (the commands, the AWS SDK's users) stay in chunks of their own.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Less source for V8 to parse at every start; names are kept, so stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
  // Native bindings and what is loaded only on demand (the SDK, progress bars) come from node_modules as before.
  external: ['zstd-napi', '@node-rs/xxhash', 'cli-progress', '@aws-sdk/*'],
  // Bundled CommonJS (commander) calls require() for Node's own modules.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
  logLevel: 'warning',
});
copyFileSync('dist/src/kernels/kernels.wasm', `${OUT}/kernels.wasm`);
