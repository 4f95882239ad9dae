import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openBase } from '../src/chunks/bases.js';
import { ContainerReader } from '../src/container/reader.js';
import { decodeFooter, FOOTER_SIZE } from '../src/container/format.js';
import { compressBuffer, compressFile, decompressBuffer, decompressFile, decompressInto, decompressStream, MithrilError, readIndex, summarize, verifyFile } from '../src/index.js';
import { MemorySink } from '../src/io/sink.js';
import { planeKernels, scratchBase } from '../src/kernels/plane-memory.js';
import { BufferSource } from '../src/io/source.js';
import { damageRawPlane, fixture, readFixture, rng, safetensors, tempDir } from './helpers.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Ratios measured on these fixtures when the pipeline was written; a regression in coding shows here. */
const FIXTURES: [string, number][] = [
  ['cnn_epoch6.bf16.safetensors', 1.52],
  ['cnn_epoch6.fp32.safetensors', 1.2],
  ['gpt_step500_layer0.fp16.safetensors', 1.17],
];

describe('real checkpoints round-trip bit-exactly', () => {
  for (const [name, minRatio] of FIXTURES) {
    it(`${name} (ratio >= ${minRatio})`, async () => {
      const original = readFixture(name);
      const container = await compressBuffer(original);
      const ratio = original.length / container.length;
      assert.ok(ratio >= minRatio, `ratio ${ratio.toFixed(4)} below ${minRatio}`);
      assert.equal(sha256(await decompressBuffer(container)), sha256(original));
    });
  }

  it('never write into the caller’s checkpoint, bases or container (chunks are coded from views of them)', async () => {
    const pairs: [string, string][] = [['cnn_epoch6.bf16.safetensors', 'cnn_epoch5.bf16.safetensors'], ['cnn_train_epoch6.pt', 'cnn_train_epoch5.pt'], ['ft_step20_layer0.bf16.safetensors', 'ft_step10_layer0.bf16.safetensors']];
    for (const [name, baseName] of pairs) {
      const original = readFixture(name);
      const baseBytes = readFixture(baseName);
      const [originalHash, baseHash] = [sha256(original), sha256(baseBytes)];
      const base = await openBase(new BufferSource(baseBytes, baseName));
      for (const options of [{}, { best: true }, { bases: [base] }, { bases: [base], fast: true }, { bases: [base], best: true }, { bases: [base], threads: 2, workerMinBytes: 1 }]) {
        const container = await compressBuffer(original, options);
        const containerHash = sha256(container);
        const restored = await decompressBuffer(container, { bases: options.bases ? [{ path: baseName, base }] : [], threads: 2, workerMinBytes: 1 });
        const what = `${name} ${JSON.stringify(Object.keys(options))}`;
        assert.deepEqual([sha256(original), sha256(baseBytes), sha256(container), sha256(restored)], [originalHash, baseHash, containerHash, originalHash], what);
      }
    }
  });

  it('every chunk size gives the same bytes back', async () => {
    const original = readFixture('cnn_epoch6.bf16.safetensors');
    for (const chunkSize of [4096, 65536, 4 * 1048576]) {
      const restored = await decompressBuffer(await compressBuffer(original, { chunkSize }));
      assert.equal(sha256(restored), sha256(original), `chunk size ${chunkSize}`);
    }
  });

  it('decompressInto restores into memory the caller gives, in place on any number of threads, and refuses too little', async () => {
    const original = readFixture('cnn_epoch6.bf16.safetensors');
    const container = await compressBuffer(original, { chunkSize: 65536 });
    const plain = new Uint8Array(original.length + 7).fill(0xee);
    const shared = new Uint8Array(new SharedArrayBuffer(original.length)).fill(0xee);
    for (const [out, threads] of [[plain, 1], [plain, 2], [shared, 1], [shared, 2]] as const) {
      const restored = await decompressInto(container, out, { threads, workerMinBytes: 1 });
      assert.equal(restored.buffer, out.buffer);
      assert.equal(sha256(restored), sha256(original), `threads ${threads}, ${out.buffer.constructor.name}`);
    }
    assert.deepEqual([...plain.subarray(original.length)], new Array(7).fill(0xee), 'bytes past the original are left alone');
    await assert.rejects(decompressInto(container, new Uint8Array(original.length - 1), { name: 'm.mth' }), (e: unknown) => {
      assert.ok(e instanceof MithrilError && e.code === 'USAGE', String(e));
      assert.match(e.message, /^m\.mth: restores \d+ bytes, more than the \d+ of the output buffer given$/);
      return true;
    });
  });

  it('--best never loses to the default', async () => {
    const original = readFixture('gpt_step500_layer0.fp16.safetensors');
    const fast = await compressBuffer(original);
    const best = await compressBuffer(original, { best: true });
    assert.ok(best.length <= fast.length);
    assert.equal(sha256(await decompressBuffer(best)), sha256(original));
  });

  it('file to file, with an index that describes every tensor', async () => {
    const dir = tempDir();
    const input = fixture('cnn_epoch6.fp32.safetensors');
    const packed = join(dir, 'model.safetensors.mth');
    const restored = join(dir, 'model.safetensors');
    const result = await compressFile(input, { output: packed });
    assert.equal(result.output, packed);
    await decompressFile(packed);
    assert.equal(sha256(readFileSync(restored)), sha256(readFileSync(input)));
    await verifyFile(packed);

    const summary = summarize((await readIndex(packed)));
    assert.equal(summary.tensors.length, 56);
    assert.deepEqual(summary.dtypes.map((d) => d.dtype).sort(), ['F32', 'I64', 'opaque']);
    const exponent = summary.planes.find((p) => p.dtype === 'F32' && p.plane === 'exponent')!;
    assert.ok(exponent.original / exponent.compressed > 2.5, 'the fp32 exponent plane carries under 3.2 bits');
  });
});

describe('reads and writes staged through the thread pool', () => {
  it('give the same container and the same bytes back as without', async () => {
    const dir = tempDir();
    const input = fixture('cnn_train_epoch6.pt');
    for (const stageMinBytes of [0, Infinity]) {
      await compressFile(input, { output: join(dir, `${stageMinBytes}.mth`), stageMinBytes, chunkSize: 65536 });
      await decompressFile(join(dir, `${stageMinBytes}.mth`), { output: join(dir, `${stageMinBytes}.pt`), stageMinBytes });
      assert.deepEqual(readFileSync(join(dir, `${stageMinBytes}.pt`)), readFileSync(input));
    }
    assert.deepEqual(readFileSync(join(dir, '0.mth')), readFileSync(join(dir, 'Infinity.mth')));
  });

  it("take their buffers in the plane kernels' memory and give them all back, two restores at once included", async () => {
    const dir = tempDir();
    const input = fixture('cnn_epoch6.bf16.safetensors');
    const packed = join(dir, 'model.mth');
    await compressFile(input, { output: packed, stageMinBytes: 0, chunkSize: 65536 });
    assert.equal(scratchBase(), 0);
    let grown = 0;
    for (let round = 0; round < 3; round++) {
      // Two at once: their buffers interleave in that memory, and each must read and write only its own.
      await Promise.all(['a', 'b'].map((name) => decompressFile(packed, { output: join(dir, `${round}${name}`), stageMinBytes: 0, force: true })));
      for (const name of ['a', 'b']) assert.equal(sha256(readFileSync(join(dir, `${round}${name}`))), sha256(readFileSync(input)));
      assert.equal(scratchBase(), 0, 'every staging buffer given back');
      if (round === 0) grown = planeKernels().memory.buffer.byteLength;
      else assert.equal(planeKernels().memory.buffer.byteLength, grown, 'restoring again grows nothing');
    }
  });
});

describe('a damaged chunk that still decodes', () => {
  it('is named, restored to a file in every way (checked whole; in runs, by one thread or shared with a worker) as to a stream, and leaves no output', async () => {
    const dir = tempDir();
    const packed = join(dir, 'model.safetensors.mth');
    await compressFile(fixture('cnn_epoch6.bf16.safetensors'), { output: packed, chunkSize: 65536 });
    const number = await damageRawPlane(packed, 4);
    const named = new RegExp(`checksum mismatch in chunk ${number} \\(`);
    // Whole, then chunk by chunk; in runs, by one thread; in runs shared with a worker.
    for (const options of [{ stageMinBytes: Infinity }, { stageMinBytes: 0 }, { stageMinBytes: 0, threads: 2, workerMinBytes: 1 }]) {
      await assert.rejects(decompressFile(packed, { output: join(dir, 'restored'), ...options }), (e: unknown) => e instanceof MithrilError && e.code === 'CHECKSUM' && named.test(e.message));
    }
    await assert.rejects(decompressStream(new BufferSource(readFileSync(packed), packed), new MemorySink()), (e: unknown) => e instanceof MithrilError && named.test(e.message));
    // Checked without an output: whole, in runs by one thread, in runs shared with a worker.
    for (const options of [{}, { stageMinBytes: 0 }, { threads: 2, workerMinBytes: 1 }]) {
      await assert.rejects(verifyFile(packed, options), (e: unknown) => e instanceof MithrilError && named.test(e.message));
    }
    assert.deepEqual(readdirSync(dir), ['model.safetensors.mth']);
  });
});

describe('safetensors edge cases round-trip', () => {
  const weights = readFixture('cnn_epoch6.bf16.safetensors').subarray(20_000, 20_000 + 4096);
  const cases: Record<string, Buffer> = {
    'tensors stored out of header order, with metadata': safetensors(
      { __metadata__: { format: 'pt', note: 'x' }, b: { dtype: 'BF16', shape: [1024], data_offsets: [2048, 4096] }, a: { dtype: 'BF16', shape: [1024], data_offsets: [0, 2048] } },
      weights,
    ),
    'padding between tensors and trailing bytes': safetensors(
      { a: { dtype: 'BF16', shape: [1000], data_offsets: [0, 2000] }, b: { dtype: 'F32', shape: [500], data_offsets: [2048, 4048] } },
      Buffer.concat([weights, Buffer.from('trailing bytes!')]),
    ),
    'unknown dtype with an odd size, zero-size tensors': safetensors(
      { z: { dtype: 'F32', shape: [0, 3], data_offsets: [0, 0] }, q: { dtype: 'Q4_K', shape: [7], data_offsets: [0, 4095] }, e: { dtype: 'BF16', shape: [0], data_offsets: [4095, 4095] } },
      weights.subarray(0, 4095),
    ),
    'no tensors at all': safetensors({ __metadata__: { empty: 'yes' } }, new Uint8Array(0)),
  };
  for (const [title, file] of Object.entries(cases)) {
    it(title, async () => {
      assert.equal(sha256(await decompressBuffer(await compressBuffer(file))), sha256(file));
    });
  }
});

/** A source that records the ranges read from it (each a request, were it remote). */
class CountingSource extends BufferSource {
  readonly reads: [number, number][] = [];
  override async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.reads.push([offset, length]);
    return super.read(offset, length, into);
  }
}

describe('opening a container', () => {
  it('reads its header once and its footer with the index in one read from the end', async () => {
    const container = await compressBuffer(readFixture('cnn_epoch6.bf16.safetensors'));
    const source = new CountingSource(container);
    await ContainerReader.open(source);
    assert.deepEqual(source.reads, [[0, 16], [container.length - 65536, 65536]]);
  });

  it('as a base, the bytes that tell it is a container are not read again', async () => {
    const container = await compressBuffer(readFixture('cnn_epoch6.bf16.safetensors'));
    const source = new CountingSource(container);
    await openBase(source);
    assert.deepEqual(source.reads, [[0, 16], [container.length - 65536, 65536]]);
  });

  it('an index longer than that read: only the bytes before it are read again, and the container restores', async () => {
    const random = rng(7);
    const header: Record<string, unknown> = {};
    for (let k = 0; k < 8000; k++) header[`layer${k}.${Math.floor(random() * 1e12).toString(36)}.weight`] = { dtype: 'F32', shape: [16], data_offsets: [k * 64, k * 64 + 64] };
    const file = safetensors(header, new Uint8Array(8000 * 64).map(() => Math.floor(random() * 256)));
    const container = await compressBuffer(file);
    const footer = decodeFooter(container.subarray(container.length - FOOTER_SIZE));
    assert.ok(typeof footer !== 'string' && footer.indexCodedLength > 65536, 'the index is longer than the read from the end');
    const source = new CountingSource(container);
    const reader = await ContainerReader.open(source);
    const tailOffset = container.length - 65536;
    assert.deepEqual(source.reads, [[0, 16], [tailOffset, 65536], [footer.indexOffset, tailOffset - footer.indexOffset]]);
    const restored = new MemorySink();
    await decompressStream(reader, restored);
    assert.equal(sha256(restored.bytes()), sha256(file));
  });
});
