// The command line bundled into dist/src/bundle/ as CommonJS: one file (cli.js) for Node to read
// and compile instead of about 80 ES modules, whose loader cost a small command more than its work
// (docs/DESIGN.md, "Start-up"); main.js runs it from V8's code cache (scripts/bundle-start.cjs,
// scripts/code-cache.mjs). A package.json there marks the folder's .js files as CommonJS. The worker
// is bundled beside it and the WebAssembly copied there, so that the URLs the code builds from
// import.meta.url (./worker.js, ./kernels*.wasm, ../../../package.json) hold in the bundle as in dist/src.
import { build } from 'esbuild';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const OUT = 'dist/src/bundle';

/**
 * commander requires child_process at load for subcommands run as programs, which mithril has none
 * of; loading it and what it pulls in is ~6 ms of every start. It is loaded when first used instead.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(build) {
    build.onResolve({ filter: /^(node:)?child_process$/ }, (args) => (/[\\/]commander[\\/]/.test(args.importer) ? { path: 'lazy-child-process', namespace: 'lazy' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: { cli: 'dist/src/cli/main.js', worker: 'dist/src/parallel/worker.js' },
  outdir: OUT,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Less source for V8 to parse at every start; names are kept, so stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
  // Native bindings and what is loaded only on demand (the SDK, progress bars) come from node_modules as before.
  external: ['zstd-napi', '@node-rs/xxhash', 'cli-progress', '@aws-sdk/*'],
  inject: ['scripts/bundle-meta-url.js'],
  define: { 'import.meta.url': 'importMetaUrl' },
  plugins: [lazyChildProcess],
  logLevel: 'warning',
});
writeFileSync(`${OUT}/package.json`, '{ "type": "commonjs" }\n');
// cli.js runs inside a function (bundle-start.cjs), where a #! line is a syntax error.
writeFileSync(`${OUT}/cli.js`, readFileSync(`${OUT}/cli.js`, 'utf8').replace(/^#!.*\n/, ''));
copyFileSync('scripts/bundle-start.cjs', `${OUT}/main.js`);
for (const wasm of ['kernels.wasm', 'kernels-shared.wasm']) copyFileSync(`dist/src/kernels/${wasm}`, `${OUT}/${wasm}`);
