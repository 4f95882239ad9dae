import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readSafetensorsLayout } from '../src/formats/safetensors.js';
import { compressBuffer, compressFile, decompressBuffer, decompressFile, decompressInto, MithrilError, readIndex, verifyFile } from '../src/index.js';
import { BufferSource, FileSource } from '../src/io/source.js';
import { ContainerReader } from '../src/container/reader.js';
import { planRuns } from '../src/chunks/restore-run.js';
import { encodeRoom } from '../src/chunks/code.js';
import { createExecutor, workersFor, WORKER_MIN_BYTES_SLOW } from '../src/parallel/executor.js';
import { SharedViewReceiver, SharedViewSender } from '../src/parallel/shared-views.js';
import { CLI, damageRawPlane, fixture, readFixture, safetensors, tempDir } from './helpers.js';

/** A larger checkpoint made of the real tensors of a fixture, repeated under new names. */
async function tiled(name: string, times: number): Promise<Buffer> {
  const file = readFixture(name);
  const tensors = (await readSafetensorsLayout(new BufferSource(file))).segments.flatMap((s) => (s.kind === 'tensor' ? [s] : []));
  const header: Record<string, unknown> = {};
  const parts: Uint8Array[] = [];
  let at = 0;
  for (let copy = 0; copy < times; copy++) {
    for (const t of tensors) {
      header[`copy${copy}.${t.name}`] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.length] };
      parts.push(file.subarray(t.offset, t.offset + t.length));
      at += t.length;
    }
  }
  return safetensors(header, Buffer.concat(parts));
}

/** Shared memory, which workers use in place: `length` bytes, or a copy of `bytes`. */
const shared = (length: number): Uint8Array => new Uint8Array(new SharedArrayBuffer(length));
function sharedCopy(bytes: Uint8Array): Uint8Array {
  const copy = shared(bytes.length);
  copy.set(bytes);
  return copy;
}

describe('worker threads', () => {
  it('name a shared buffer in messages, sending it to each worker once, and copy other views', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(64)).fill(7);
    const plain = new Uint8Array([1, 2, 3]);
    const sender = new SharedViewSender(2);
    const receivers = [new SharedViewReceiver(), new SharedViewReceiver()];
    const message = (worker: number): unknown => structuredClone(sender.pack({ id: worker, task: { raw: shared.subarray(8, 24), refs: [shared.subarray(0, 4), plain], n: 5 } }, worker));
    for (const [worker, carriesBuffer] of [[0, true], [0, false], [1, true]] as const) {
      const packed = message(worker);
      assert.equal(JSON.stringify(packed).includes('"buffer"'), carriesBuffer);
      const { task } = receivers[worker]!.unpack(packed) as { task: { raw: Uint8Array; refs: Uint8Array[]; n: number } };
      task.raw[0] = 9; // the same memory as the sender's
      assert.equal(shared[8], 9);
      assert.deepEqual([task.raw.length, task.refs[0]!.length, task.n], [16, 4, 5]);
      assert.deepEqual(task.refs[1], plain);
    }
    assert.throws(() => new SharedViewReceiver().unpack({ sharedView: 0, offset: 0, length: 1 }), /never sent/);
  });

  it('code on the workers once they are ready (this thread codes until then) as this thread does', async () => {
    const file = readFixture('cnn_epoch6.bf16.safetensors');
    const [here, pool] = [createExecutor(1), createExecutor(2)];
    await pool.whenReady();
    try {
      const raw = shared(1 << 20);
      raw.set(file.subarray(file.length - raw.length));
      const task = { dtype: 'BF16', best: false, strong: false };
      const mine = await here.encode({ ...task, raw, out: shared(encodeRoom(raw.length)) });
      const theirs = await pool.encode({ ...task, raw, out: shared(encodeRoom(raw.length)) });
      assert.deepEqual(theirs.result, mine.result);
      assert.deepEqual(theirs.out.subarray(0, mine.result.codedLength), mine.out.subarray(0, mine.result.codedLength));
      const { split, streams, xxh64, codedLength } = mine.result;
      const chunk = { offset: 0, rawOffset: 0, rawLength: raw.length, xxh64, split, streams };
      const coded = theirs.out.subarray(0, codedLength);
      const restored = shared(raw.length);
      assert.equal((await pool.decode({ chunk, coded, raw: restored, refs: [] })).outcome, 'ok');
      assert.deepEqual(restored, raw);
      coded[codedLength >> 1]! ^= 0x20;
      assert.notEqual((await pool.decode({ chunk, coded, raw: restored, refs: [] })).outcome, 'ok');
    } finally {
      await pool.close();
    }
  });

  it('keep a worker fed while this thread codes without returning to its event loop', async () => {
    const file = readFixture('cnn_epoch6.bf16.safetensors');
    const pool = createExecutor(2);
    await pool.whenReady();
    try {
      const raw = shared(1 << 20);
      raw.set(file.subarray(file.length - raw.length));
      const { result, out } = await pool.encode({ raw, out: shared(encodeRoom(raw.length)), dtype: 'BF16', best: false, strong: false });
      const chunk = { offset: 0, rawOffset: 0, rawLength: raw.length, xxh64: result.xxh64, split: result.split, streams: result.streams };
      const coded = out.subarray(0, result.codedLength);
      const before = pool.ran;
      // Tasks handed over back to back, as decompress does with chunks it already has: replies
      // that wait for the event loop would leave the worker with its first few tasks only.
      const tasks = Array.from({ length: 64 }, () => pool.decode({ chunk, coded, raw: shared(raw.length), refs: [] }));
      const outcomes = (await Promise.all(tasks)).map((reply) => reply.outcome);
      assert.deepEqual(new Set(outcomes), new Set(['ok']));
      const onWorker = pool.ran.onWorkers - before.onWorkers;
      assert.equal(onWorker + pool.ran.here - before.here, 64);
      assert.ok(onWorker > 8, `the worker ran ${onWorker} of 64 tasks`);
    } finally {
      await pool.close();
    }
  });

  it('give the same container as one thread, and decode it the same', async () => {
    const original = (await tiled('cnn_epoch6.bf16.safetensors', 8));
    const one = await compressBuffer(original, { threads: 1 });
    const two = await compressBuffer(original, { threads: 2, workerMinBytes: 1 });
    assert.deepEqual(two, one);
    assert.deepEqual(await decompressBuffer(one, { threads: 2, workerMinBytes: 1 }), new Uint8Array(original));
    // A container in shared memory is read by the workers in place, into shared memory in place.
    const out = shared(original.length + 7);
    await decompressInto(sharedCopy(one), out, { threads: 2, workerMinBytes: 1 });
    assert.deepEqual(out.subarray(0, original.length), new Uint8Array(original));
    const corrupted = sharedCopy(one);
    corrupted[corrupted.length >> 1]! ^= 0x20;
    await assert.rejects(decompressInto(corrupted, out, { threads: 2, workerMinBytes: 1 }), /(checksum mismatch in|corrupted) chunk \d+/);
  });

  it('give the same delta container as one thread, and decode it', async () => {
    const dir = tempDir();
    const outputs = [];
    for (const threads of [1, 2]) {
      const output = join(dir, `t${threads}.mth`);
      await compressFile(fixture('cnn_epoch6.bf16.safetensors'), { output, threads, workerMinBytes: 1, bases: [fixture('cnn_epoch5.bf16.safetensors')] });
      outputs.push(readFileSync(output));
    }
    assert.deepEqual(outputs[1], outputs[0]);
    // Decoding on workers, each with wasm memory of its own that grows as chunks come.
    for (const [fast, output] of [[false, join(dir, 't1.mth')], [true, join(dir, 'fast.mth')]] as const) {
      if (fast) await compressFile(fixture('cnn_epoch6.bf16.safetensors'), { output, fast, bases: [fixture('cnn_epoch5.bf16.safetensors')] });
      await decompressFile(output, { output: join(dir, 'restored'), force: true, threads: 2, workerMinBytes: 1, bases: [fixture('cnn_epoch5.bf16.safetensors')] });
      assert.deepEqual(readFileSync(join(dir, 'restored')), readFileSync(fixture('cnn_epoch6.bf16.safetensors')));
    }
  });

  it('report a corrupted chunk decoded on a worker as one clear error, leaving no output', async () => {
    const dir = tempDir();
    const packed = await compressBuffer((await tiled('cnn_epoch6.fp32.safetensors', 4)));
    packed[packed.length >> 1]! ^= 0x20;
    writeFileSync(join(dir, 'bad.safetensors.mth'), packed);
    await assert.rejects(decompressFile(join(dir, 'bad.safetensors.mth'), { threads: 2, workerMinBytes: 1 }), (e: unknown) => {
      assert.ok(e instanceof MithrilError);
      assert.match(e.message, /bad\.safetensors\.mth: (checksum mismatch in|corrupted) chunk \d+ \(tensor "copy\d\./);
      return true;
    });
    assert.deepEqual(readdirSync(dir), ['bad.safetensors.mth']);
  });

  it('restore a large file in runs, each thread reading and writing its own (base files too), bit-exactly', async () => {
    const dir = tempDir();
    const [input, base] = [join(dir, 'model.safetensors'), join(dir, 'base.safetensors')];
    writeFileSync(input, await tiled('cnn_epoch6.bf16.safetensors', 8));
    writeFileSync(base, await tiled('cnn_epoch5.bf16.safetensors', 8));
    for (const bases of [[], [base]]) {
      const packed = join(dir, 'model.mth');
      await compressFile(input, { output: packed, chunkSize: 65536, bases, force: true });
      // Started and parked first, so that the restore takes this pool with its worker ready.
      const pool = createExecutor(2);
      await pool.whenReady();
      const before = pool.ran.onWorkers;
      await pool.close();
      await decompressFile(packed, { output: join(dir, 'restored'), threads: 2, workerMinBytes: 1, bases, force: true });
      assert.deepEqual(readFileSync(join(dir, 'restored')), readFileSync(input));
      await verifyFile(packed, { threads: 2, workerMinBytes: 1, bases });
      const same = createExecutor(2);
      try {
        assert.equal(same, pool);
        const { chunks } = (await readIndex(packed)).index;
        const sent = same.ran.onWorkers - before;
        assert.ok(sent > 0 && sent * 4 < chunks.length, `the worker was sent ${sent} runs of ${chunks.length} chunks, not chunks`);
      } finally {
        await same.close();
      }
    }
  });

  it('restore a run on a worker into its place in the file, or name its first bad chunk, or say the file was cut short', async () => {
    const dir = tempDir();
    const input = join(dir, 'model.safetensors');
    writeFileSync(input, await tiled('cnn_epoch6.bf16.safetensors', 4));
    const packed = join(dir, 'model.mth');
    await compressFile(input, { output: packed, chunkSize: 65536 });
    const damaged = await damageRawPlane(packed, 20);
    const source = new FileSource(packed);
    const out = openSync(join(dir, 'restored'), 'w');
    const pool = createExecutor(2);
    try {
      const reader = await ContainerReader.open(source);
      const runs = planRuns(reader.file()!, out, reader.index.chunks, 262144);
      const bad = runs.findIndex((run) => run.first <= damaged && damaged < run.first + run.chunks.length);
      assert.ok(bad > 0 && runs.length > bad + 1, `${runs.length} runs, the damaged chunk in run ${bad}`);
      assert.deepEqual(await pool.restoreRunOn(0, runs[bad]!), { chunk: damaged, outcome: 'checksum' });
      const good = runs[bad + 1]!;
      assert.deepEqual(await pool.restoreRunOn(0, good), { ok: true });
      const start = good.chunks[0]!.rawOffset;
      const end = good.chunks.at(-1)!.rawOffset + good.chunks.at(-1)!.rawLength;
      assert.deepEqual(readFileSync(join(dir, 'restored')).subarray(start, end), readFileSync(input).subarray(start, end));
      // A file cut short under it: the worker's error arrives as the one-line error it was.
      truncateSync(packed, runs.at(-1)!.chunks[0]!.offset);
      await assert.rejects(pool.restoreRunOn(0, runs.at(-1)!), (e: unknown) => e instanceof MithrilError && e.code === 'TRUNCATED' && e.message.startsWith(`${packed}: unexpected end of file`));
    } finally {
      await pool.close();
      closeSync(out);
      source.close();
    }
  });

  it('start no more workers than there is work for', () => {
    assert.equal(workersFor(16, 3, 2.4e6), 1);
    assert.equal(workersFor(16, 3, 1e9), 3);
    assert.equal(workersFor(2, 500, 100 * 1048576), 2);
    assert.equal(workersFor(4, 500, 6.3 * 1048576, WORKER_MIN_BYTES_SLOW), 2);
  });

  it('an interrupted run (SIGINT) leaves no partial file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'big.safetensors'), (await tiled('cnn_epoch6.fp32.safetensors', 60)));
    const child = spawn(process.execPath, [CLI, 'compress', '-q', '-T', '2', 'big.safetensors'], { cwd: dir, stdio: 'ignore' });
    let running = true;
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => ((running = false), resolve(code))));
    // Interrupt as soon as the temporary output exists, that is, in the middle of the work.
    while (running && !readdirSync(dir).some((name) => name.includes('.tmp-'))) await new Promise((r) => setTimeout(r, 2));
    assert.ok(running, 'finished before it could be interrupted');
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    assert.deepEqual(readdirSync(dir), ['big.safetensors']);
  });
});
