import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixture, tempDir } from './helpers.js';

/** The repository root (this file runs from dist/test/). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
  exports: Record<string, { types: string; default: string }>;
};

interface PackEntry {
  name: string;
  filename: string;
  files: { path: string }[];
}

function run(command: string, args: string[], options: SpawnSyncOptions & { cwd: string }): string {
  const result = spawnSync(command, args, { encoding: 'utf8', shell: process.platform === 'win32', ...options });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} (in ${options.cwd}) failed:\n${result.stderr}\n${result.stdout}`);
  return String(result.stdout);
}

/** `npm pack --json`: stdout must be the JSON alone (a build log on stdout would break every `$(npm pack)`). */
function pack(cwd: string, ...args: string[]): PackEntry {
  const stdout = run('npm', ['pack', '--json', ...args], { cwd });
  const entries = JSON.parse(stdout) as PackEntry[];
  assert.equal(entries.length, 1);
  return entries[0]!;
}

/** The .wat sources under src/ outside src/kernels/ (whose files make one module), each compiled to a .wasm the code loads at run time. */
const watFiles = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[])
  .map((entry) => entry.split('\\').join('/'))
  .filter((entry) => entry.endsWith('.wat') && !entry.startsWith('kernels/'));

/** What the command and the library need at run time is in the tarball, and nothing for development. */
function assertContents(entry: PackEntry): void {
  assert.equal(entry.name, 'mithril-checkpoint');
  const files = new Set(entry.files.map((file) => file.path));
  const needed = [
    'package.json', // the CLI reads its version from it
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/bundle/main.js',
    'dist/src/bundle/cli.js',
    'dist/src/bundle/cli.js.cache',
    'dist/src/bundle/package.json', // marks the bundle CommonJS
    'dist/src/bundle/worker.js',
    'dist/src/bundle/kernels.wasm',
    'dist/src/bundle/kernels-shared.wasm',
    'dist/src/parallel/worker.js',
    'dist/src/kernels/kernels.wasm',
    'dist/src/kernels/kernels-shared.wasm',
    ...watFiles.map((wat) => `dist/src/${wat.replace(/\.wat$/, '.wasm')}`),
  ];
  for (const file of needed) assert.ok(files.has(file), `${file} missing from the tarball`);
  const junk = [...files].filter((file) => /^(src|test|bench|fixtures|scripts|node_modules)\/|^dist\/(test|bench)\/|\.(map|tsbuildinfo|mth|safetensors|pt|tgz)$/.test(file));
  assert.deepEqual(junk, [], 'development files in the tarball');
}

describe('npm package', () => {
  it('is mithril-checkpoint with the command mithril, built before packing', () => {
    assert.equal(PKG.name, 'mithril-checkpoint');
    assert.deepEqual(Object.keys(PKG.bin), ['mithril']);
    assert.equal(PKG.bin.mithril, 'dist/src/bundle/main.js');
    assert.deepEqual(PKG.exports['.'], { types: './dist/src/index.d.ts', default: './dist/src/index.js' });
    // prepare runs for git installs and before npm pack/publish: a clean clone has no dist/ to ship.
    assert.equal(PKG.scripts.prepare, 'node scripts/prepare.mjs');
    assert.match(readFileSync(join(ROOT, 'scripts', 'prepare.mjs'), 'utf8'), /npm run build/);
  });

  it('npm pack lists the command, its worker and its wasm, and no tests or fixtures', () => {
    // dist/ is already built (npm test builds first); --ignore-scripts keeps prepare from rebuilding it
    // while the other test files run from it. The clean-copy test below packs with prepare.
    const entry = pack(ROOT, '--dry-run', '--ignore-scripts');
    assertContents(entry);
  });

  it('a tarball packed from a clean copy installs, and its command and library work', { timeout: 300_000 }, (t) => {
    const started = performance.now();
    const work = tempDir();
    try {
      // A clean clone: sources, no dist/. node_modules is linked from the repo so the build has its tools.
      const repo = join(work, 'repo');
      mkdirSync(repo);
      for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'docs', 'scripts', 'src']) {
        cpSync(join(ROOT, entry), join(repo, entry), { recursive: true });
      }
      symlinkSync(join(ROOT, 'node_modules'), join(repo, 'node_modules'), 'junction');
      assert.ok(!existsSync(join(repo, 'dist')));

      const tarballs = join(work, 'tarballs');
      mkdirSync(tarballs);
      const entry = pack(repo, '--pack-destination', tarballs); // runs prepare: the build
      assertContents(entry);
      const tarball = join(tarballs, entry.filename);

      // Install it as a user would (zstd-napi builds from source here). The allowScripts entry lets
      // npm versions that block dependencies' install scripts by default build it.
      const prefix = join(work, 'install');
      mkdirSync(prefix);
      writeFileSync(join(prefix, 'package.json'), JSON.stringify({ private: true, allowScripts: { 'zstd-napi': true } }));
      run('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: prefix });

      const bin = join(prefix, 'node_modules', '.bin', process.platform === 'win32' ? 'mithril.cmd' : 'mithril');
      assert.equal(run(bin, ['--version'], { cwd: prefix }).trim(), PKG.version);

      const original = readFileSync(fixture('cnn_epoch6.bf16.safetensors'));
      writeFileSync(join(prefix, 'm.safetensors'), original);
      run(bin, ['compress', 'm.safetensors'], { cwd: prefix }); // -> m.safetensors.mth
      run(bin, ['decompress', '-o', 'restored.safetensors', 'm.safetensors.mth'], { cwd: prefix });
      assert.ok(readFileSync(join(prefix, 'restored.safetensors')).equals(original), 'restored bytes differ from the original');

      // The library by its package name, from the install's folder: an in-memory round trip of the same checkpoint.
      const script = `import('mithril-checkpoint').then(async (m) => {
        const data = (await import('node:fs')).readFileSync('m.safetensors');
        const back = await m.decompressBuffer(await m.compressBuffer(data));
        console.log(JSON.stringify({ compressBuffer: typeof m.compressBuffer, same: Buffer.from(back).equals(data) }));
      })`;
      const library = JSON.parse(run(process.execPath, ['--input-type=module', '-e', script], { cwd: prefix, shell: false }));
      assert.deepEqual(library, { compressBuffer: 'function', same: true });
    } finally {
      rmSync(work, { recursive: true, force: true });
      t.diagnostic(`pack, install and runs took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  });

  it("runs from the build's code cache, and ignores a damaged one instead of letting V8 abort", () => {
    const bundle = join(ROOT, 'dist', 'src', 'bundle');
    // The cache starts with the xxh64 of the rest, seeded with the source's (scripts/bundle-start.cjs).
    const { xxh64 } = createRequire(import.meta.url)('@node-rs/xxhash') as typeof import('@node-rs/xxhash');
    const cache = readFileSync(join(bundle, 'cli.js.cache'));
    assert.equal(cache.readBigUInt64LE(0), xxh64(cache.subarray(8), xxh64(readFileSync(join(bundle, 'cli.js')))), 'the build made a cache the command accepts');
    // A sibling copy, so that its package.json and node_modules resolve as the bundle's do.
    const damaged = join(ROOT, 'dist', 'src', `bundle-damaged-${process.pid}`);
    try {
      cpSync(bundle, damaged, { recursive: true });
      const bytes = Buffer.from(cache);
      // Past V8's own header (which it does check): V8 aborts on these (SIGTRAP).
      for (let i = 8 + 200; i < bytes.length; i += 997) bytes[i]! ^= 0x5a;
      writeFileSync(join(damaged, 'cli.js.cache'), bytes);
      const dir = tempDir();
      const original = readFileSync(fixture('cnn_epoch6.bf16.safetensors'));
      writeFileSync(join(dir, 'm.safetensors'), original);
      run(process.execPath, [join(damaged, 'main.js'), 'compress', '-q', 'm.safetensors'], { cwd: dir });
      run(process.execPath, [join(damaged, 'main.js'), 'decompress', '-q', '-o', 'back.safetensors', 'm.safetensors.mth'], { cwd: dir });
      assert.ok(readFileSync(join(dir, 'back.safetensors')).equals(original));
    } finally {
      rmSync(damaged, { recursive: true, force: true });
    }
  });
});
