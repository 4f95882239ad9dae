import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openBase } from '../src/chunks/bases.js';
import { MithrilError } from '../src/errors.js';
import { looksLikeDcpMetadata, readDcpMetadata } from '../src/formats/dcp-metadata.js';
import { readDcpLayout } from '../src/formats/dcp.js';
import { detectLayout, looksLikeCheckpoint } from '../src/formats/detect.js';
import type { Layout, TensorSegment } from '../src/formats/layout.js';
import { compressBuffer, decompressBuffer } from '../src/index.js';
import { BufferSource, FileSource } from '../src/io/source.js';
import { CLI, fixture, rng, tempDir } from './helpers.js';

/** The fixture folders (fixtures/README.md): torch 2.13's dcp.save of the GPT model at steps 400 and 500, 2 ranks, 2-D weights sharded by rows. */
const STEP400 = fixture('dcp/gpt_step400.bf16');
const STEP500 = fixture('dcp/gpt_step500.bf16');
const FILES = ['.metadata', '__0_0.distcp', '__1_0.distcp'];

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function mithril(cwd: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

async function layoutOf(path: string): Promise<Layout> {
  const source = new FileSource(path);
  try {
    return await detectLayout(source);
  } finally {
    source.close();
  }
}

const tensors = (layout: Layout): TensorSegment[] => layout.segments.filter((s): s is TensorSegment => s.kind === 'tensor');

/** Every byte in exactly one segment, in order. */
function assertCovers(layout: Layout, size: number): void {
  let at = 0;
  for (const s of layout.segments) {
    assert.equal(s.offset, at, `segment ${JSON.stringify(s)} starts at ${s.offset}, expected ${at}`);
    assert.ok(s.length > 0 || s.kind === 'tensor');
    at += s.length;
  }
  assert.equal(at, size);
}

/** A copy of a fixture folder (the files given) in a fresh temporary folder. */
function copyFolder(from: string, files = FILES): string {
  const dir = join(tempDir(), 'ckpt');
  mkdirSync(dir);
  for (const f of files) copyFileSync(join(from, f), join(dir, f));
  return dir;
}

describe('DCP folders: layout', () => {
  it('names every tensor of each rank from .metadata, typed as torch.load reads the records', async () => {
    const rank0 = await layoutOf(join(STEP400, '__0_0.distcp'));
    const rank1 = await layoutOf(join(STEP400, '__1_0.distcp'));
    assert.equal(rank0.format, 'dcp');
    assertCovers(rank0, 3339531);
    assertCovers(rank1, 3420797);
    // Values checked with python: the .metadata's storage_data, and torch.load of each record's bytes.
    const t0 = tensors(rank0);
    const t1 = tensors(rank1);
    assert.equal(t0.length, 19);
    assert.equal(t1.length, 53);
    const pick = (ts: TensorSegment[], name: string) => ts.find((t) => t.name === name) && { ...ts.find((t) => t.name === name)!, offset: 0, length: 0 };
    assert.deepEqual(pick(t0, 'lm_head.weight@0,0'), { kind: 'tensor', name: 'lm_head.weight@0,0', dtype: 'BF16', shape: [128, 256], offset: 0, length: 0 });
    assert.deepEqual(pick(t1, 'lm_head.weight@128,0')?.shape, [128, 256]);
    assert.deepEqual(pick(t0, 'transformer.h.0.attn.c_attn.weight@0,0')?.shape, [384, 256]);
    assert.deepEqual(pick(t0, 'transformer.h.3.mlp.c_proj.weight@0,0')?.shape, [128, 1024]);
    assert.deepEqual(pick(t1, 'transformer.wpe.weight@64,0')?.shape, [64, 256]);
    // Replicated 1-D tensors are saved whole, by one rank: named plainly.
    assert.deepEqual(pick(t1, 'transformer.h.0.attn.c_attn.bias')?.shape, [768]);
    assert.deepEqual(pick(t1, 'transformer.ln_f.weight')?.shape, [256]);
    assert.ok([...t0, ...t1].every((t) => t.dtype === 'BF16' && t.length === t.shape.reduce((a, d) => a * d, 2)));
    // The first record starts the file: its storage's local header is at 598 (python's zipfile), its data 64-byte aligned after it.
    assert.equal(t0[0]!.offset, 704);
    assert.equal(new Set(t1.map((t) => t.name)).size, 53);
  });

  it('reads .metadata as data: every item placed, tensors with their whole size and dtype', () => {
    const files = readDcpMetadata(readFileSync(join(STEP400, '.metadata')));
    assert.deepEqual([...files.keys()].sort(), ['__0_0.distcp', '__1_0.distcp']);
    const lm = files.get('__1_0.distcp')!.find((i) => i.fqn === 'lm_head.weight')!;
    assert.deepEqual(lm, { fqn: 'lm_head.weight', file: '__1_0.distcp', offset: 0, length: 67113, transformed: false, chunkOffsets: [128, 0], tensor: { size: [256, 256], dtype: 'BF16' } });
  });

  it('without .metadata, or renamed, finds the records by walking them (named by place) with the same tensors', async () => {
    const bytes = readFileSync(join(STEP400, '__0_0.distcp'));
    const named = tensors(await layoutOf(join(STEP400, '__0_0.distcp')));
    for (const name of ['__0_0.distcp', 'renamed.pt']) {
      const layout = await detectLayout(new BufferSource(bytes, name));
      assert.equal(layout.format, 'dcp', name);
      assertCovers(layout, bytes.length);
      const walked = tensors(layout);
      assert.deepEqual(walked.map((t) => t.name), named.map((_, i) => `record${i}`));
      assert.deepEqual(walked.map(({ dtype, shape, offset }) => ({ dtype, shape, offset })), named.map(({ dtype, shape, offset }) => ({ dtype, shape, offset })));
    }
  });

  it('records written through DCP transforms, or not torch.save archives, stay opaque; overlapping items are refused', async () => {
    const bytes = readFileSync(join(STEP400, '__0_0.distcp'));
    const items = readDcpMetadata(readFileSync(join(STEP400, '.metadata'))).get('__0_0.distcp')!;
    const [first, second] = [...items].sort((a, b) => a.offset - b.offset);
    const source = new BufferSource(Buffer.concat([bytes.subarray(0, first!.length), Buffer.from('not a zip')]), '__0_0.distcp');
    const layout = await readDcpLayout(source, [{ ...first!, transformed: true }, { fqn: 'x', file: '__0_0.distcp', offset: first!.length, length: 9, transformed: false }]);
    assert.deepEqual(layout.segments, [
      { kind: 'opaque', role: 'dcp record', offset: 0, length: first!.length },
      { kind: 'opaque', role: 'dcp record', offset: first!.length, length: 9 },
    ]);
    await assert.rejects(readDcpLayout(new BufferSource(bytes, '__0_0.distcp'), [first!, { ...second!, offset: first!.length - 1 }]), /overlaps the item before/);
  });

  it('.metadata is a checkpoint file of its own (one opaque segment), so a folder is compressed whole', async () => {
    const path = join(STEP400, '.metadata');
    assert.ok(looksLikeDcpMetadata(readFileSync(path).subarray(0, 64)));
    const layout = await layoutOf(path);
    assert.equal(layout.format, 'dcp-metadata');
    assert.deepEqual(layout.segments, [{ kind: 'opaque', role: 'dcp metadata', offset: 0, length: 18033 }]);
    for (const f of FILES) {
      const source = new FileSource(join(STEP400, f));
      assert.ok(await looksLikeCheckpoint(source), f);
      source.close();
    }
  });
});

describe('DCP folders: compression', () => {
  it('compress -r and decompress -r restore every file of the folder byte for byte', () => {
    const dir = tempDir();
    const folder = copyFolder(STEP500);
    const before = FILES.map((f) => sha256(readFileSync(join(folder, f))));
    mkdirSync(join(dir, 'packed'));
    mkdirSync(join(dir, 'restored'));
    const compress = mithril(dir, 'compress', '-r', '-q', folder, '-o', 'packed');
    assert.equal(compress.code, 0, compress.stderr);
    assert.deepEqual(readdirSync(join(dir, 'packed')).sort(), FILES.map((f) => `${f}.mth`).sort());
    const info = mithril(dir, 'info', join(dir, 'packed', '__1_0.distcp.mth'));
    assert.match(info.stdout, /dcp checkpoint/);
    const decompress = mithril(dir, 'decompress', '-r', '-q', 'packed', '-o', 'restored');
    assert.equal(decompress.code, 0, decompress.stderr);
    assert.deepEqual(FILES.map((f) => sha256(readFileSync(join(dir, 'restored', f)))), before);
  });

  it('compress -r --rm takes .metadata last, so every rank\'s file is still named by it', () => {
    const folder = copyFolder(STEP500);
    const run = mithril(folder, 'compress', '-r', '--rm', '-q', '.');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(readdirSync(folder).sort(), FILES.map((f) => `${f}.mth`).sort());
    const info = mithril(folder, 'info', '--tensors', '__1_0.distcp.mth');
    assert.match(info.stdout, /lm_head\.weight@128,0 /);
    assert.match(info.stdout, /transformer\.ln_f\.weight /);
  });

  for (const rank of [0, 1]) {
    it(`rank ${rank}: a delta against step 400 pairs every tensor by its DCP name, is smaller than alone, and restores exactly`, async () => {
      const file = `__${rank}_0.distcp`;
      const checkpoint = readFileSync(join(STEP500, file));
      const source = new FileSource(join(STEP400, file));
      const base = await openBase(source);
      try {
        assert.equal(base.tensors.size, rank === 0 ? 19 : 53);
        const alone = await compressBuffer(checkpoint, { name: file });
        // Compressed from the file (so .metadata names its tensors, as in the base): the CLI's way.
        const dir = tempDir();
        const out = join(dir, 'delta.mth');
        const run = mithril(dir, 'compress', '-q', join(STEP500, file), '--base', join(STEP400, file), '-o', out);
        assert.equal(run.code, 0, run.stderr);
        const delta = readFileSync(out);
        assert.ok(delta.length < alone.length * 0.9, `delta ${delta.length} vs alone ${alone.length}`);
        const restored = await decompressBuffer(delta, { bases: [{ path: file, base }] });
        assert.equal(sha256(restored), sha256(checkpoint));
        assert.equal(sha256(await decompressBuffer(alone)), sha256(checkpoint));
      } finally {
        base.close();
      }
    });
  }
});

describe('DCP folders: damaged and hostile files', () => {
  /** Either a layout covering every byte exactly once, or a one-line MithrilError; anything else fails. */
  async function layoutOrError(path: string): Promise<'layout' | 'error'> {
    try {
      const layout = await layoutOf(path);
      assertCovers(layout, readFileSync(path).length);
      return 'layout';
    } catch (e) {
      if (!(e instanceof MithrilError)) throw e;
      assert.doesNotMatch(e.message, /\n/);
      return 'error';
    }
  }

  it('a truncated .distcp beside its .metadata is a one-line error naming the file', () => {
    const folder = copyFolder(STEP400);
    const path = join(folder, '__1_0.distcp');
    writeFileSync(path, readFileSync(path).subarray(0, 2_000_000));
    const run = mithril(folder, 'compress', '__1_0.distcp');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^mithril: __1_0\.distcp: is truncated or does not match its \.metadata: .* but the file is 2000000 bytes\n$/);
  });

  it('a truncated or mangled .metadata is a one-line error naming it; the .metadata itself still compresses and restores', () => {
    const folder = copyFolder(STEP400);
    const metadata = join(folder, '.metadata');
    const original = readFileSync(metadata);
    writeFileSync(metadata, original.subarray(0, 9000));
    const run = mithril(folder, 'compress', '__0_0.distcp');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^mithril: .*\.metadata: cannot read the DCP metadata: .*\n$/);
    const alone = mithril(folder, 'compress', '.metadata');
    assert.equal(alone.code, 0, alone.stderr);
    const back = mithril(folder, 'decompress', '-f', '.metadata.mth');
    assert.equal(back.code, 0, back.stderr);
    assert.equal(sha256(readFileSync(metadata)), sha256(original.subarray(0, 9000)));
  });

  it('random damage to .metadata or the .distcp gives a layout covering every byte, or a one-line error', async () => {
    const random = rng(20261203);
    const folder = copyFolder(STEP400, ['.metadata', '__0_0.distcp']);
    const metadataPath = join(folder, '.metadata');
    const distcpPath = join(folder, '__0_0.distcp');
    const metadata = readFileSync(metadataPath);
    const distcp = readFileSync(distcpPath);
    const seen = { layout: 0, error: 0 };
    for (let i = 0; i < 60; i++) {
      const m = Buffer.from(metadata);
      for (let k = 0; k < 1 + (i % 4); k++) m[Math.floor(random() * m.length)] = Math.floor(random() * 256);
      writeFileSync(metadataPath, i % 10 === 9 ? m.subarray(0, Math.floor(random() * m.length)) : m);
      seen[await layoutOrError(distcpPath)]++;
    }
    writeFileSync(metadataPath, metadata);
    for (let i = 0; i < 40; i++) {
      const d = Buffer.from(distcp);
      // Damage lands in the first records' zip headers and pickles (a tensor's own bytes change nothing).
      for (let k = 0; k < 1 + (i % 3); k++) d[Math.floor(random() * 70_000)] = Math.floor(random() * 256);
      writeFileSync(distcpPath, i % 8 === 7 ? d.subarray(0, Math.floor(random() * d.length)) : d);
      seen[await layoutOrError(distcpPath)]++;
    }
    assert.ok(seen.layout > 0 && seen.error > 0, JSON.stringify(seen));
  });

  it('a damaged .distcp still compresses losslessly when it reads at all (without .metadata: walked as far as it goes)', async () => {
    const random = rng(7);
    const distcp = readFileSync(join(STEP400, '__0_0.distcp'));
    for (let i = 0; i < 4; i++) {
      const d = Buffer.from(distcp);
      d[Math.floor(random() * d.length)] ^= 0xff;
      const bytes = i === 3 ? d.subarray(0, 1_234_567) : d;
      let packed: Uint8Array;
      try {
        packed = await compressBuffer(bytes, { name: '__0_0.distcp' });
      } catch (e) {
        assert.ok(e instanceof MithrilError);
        continue;
      }
      assert.equal(sha256(await decompressBuffer(packed)), sha256(bytes));
    }
  });
});
