import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compressFile, decompressFile, MithrilError, readIndex, verifyFile } from '../src/index.js';
import { compressStream } from '../src/compress.js';
import { MemorySink } from '../src/io/sink.js';
import { BufferSource } from '../src/io/source.js';
import { assertOneLine, CLI, fixture, rng, safetensors, tempDir } from './helpers.js';

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function mithril(cwd: string, args: string[], options: { input?: Buffer; env?: NodeJS.ProcessEnv; shell?: string } = {}): Run {
  const run = options.shell
    ? spawnSync('bash', ['-c', options.shell], { cwd, env: { ...process.env, ...options.env, MITHRIL: `${process.execPath} ${CLI}` } })
    : spawnSync(process.execPath, [CLI, ...args], { cwd, input: options.input, env: { ...process.env, ...options.env } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr.toString() };
}

const CNN = 'cnn_epoch6.bf16.safetensors';
const tempFiles = (dir: string): string[] => readdirSync(dir).filter((name) => name.includes('.tmp-'));

/** A folder holding a copy of the cnn checkpoint as m.safetensors and its container m.safetensors.mth. */
function workspace(): { dir: string; original: Buffer } {
  const dir = tempDir();
  copyFileSync(fixture(CNN), join(dir, 'm.safetensors'));
  assert.equal(mithril(dir, ['compress', '-q', 'm.safetensors']).code, 0);
  return { dir, original: readFileSync(join(dir, 'm.safetensors')) };
}

describe('never damage what is not ours', () => {
  it('writes into a character device instead of replacing it, with or without -f', () => {
    const { dir } = workspace();
    for (const force of [[], ['-f']]) {
      const run = mithril(dir, ['decompress', '-q', ...force, 'm.safetensors.mth', '-o', '/dev/null']);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(lstatSync('/dev/null').isCharacterDevice());
    }
    assert.equal(mithril(dir, ['compress', '-q', '-f', 'm.safetensors', '-o', '/dev/null']).code, 0);
    assert.ok(lstatSync('/dev/null').isCharacterDevice());
  });

  it('streams into a FIFO, which stays a FIFO', async () => {
    const { dir, original } = workspace();
    const fifo = join(dir, 'pipe');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    // The reader writes to a file: this process is blocked in spawnSync meanwhile and could not drain a pipe.
    const reader = spawn('sh', ['-c', 'cat pipe > received'], { cwd: dir });
    const closed = new Promise((resolve) => reader.on('close', resolve));
    const run = mithril(dir, ['decompress', '-q', '-f', 'm.safetensors.mth', '-o', fifo]);
    await closed;
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(readFileSync(join(dir, 'received')), original);
    assert.ok(lstatSync(fifo).isFIFO());
  });

  it('a symbolic link as output: refused without -f (even dangling); with -f the link is replaced, never its target', () => {
    const { dir } = workspace();
    writeFileSync(join(dir, 'target.txt'), 'keep me');
    symlinkSync('target.txt', join(dir, 'link.mth'));
    symlinkSync('missing.txt', join(dir, 'dangling.mth'));
    assertOneLine(mithril(dir, ['compress', 'm.safetensors', '-o', 'link.mth']), 'link.mth', /already exists \(use -f to overwrite\)/);
    assertOneLine(mithril(dir, ['compress', 'm.safetensors', '-o', 'dangling.mth']), 'dangling.mth', /already exists/);
    assert.equal(readlinkSync(join(dir, 'dangling.mth')), 'missing.txt');
    assert.equal(mithril(dir, ['compress', '-q', '-f', 'm.safetensors', '-o', 'link.mth']).code, 0);
    assert.ok(lstatSync(join(dir, 'link.mth')).isFile());
    assert.equal(readFileSync(join(dir, 'target.txt'), 'utf8'), 'keep me');
    assert.deepEqual(readFileSync(join(dir, 'link.mth')), readFileSync(join(dir, 'm.safetensors.mth')));
  });

  it('an output that is the input under another name is refused', () => {
    const { dir } = workspace();
    symlinkSync('m.safetensors.mth', join(dir, 'alias'));
    assertOneLine(mithril(dir, ['decompress', '-f', 'm.safetensors.mth', '-o', 'alias']), 'alias', /would overwrite the input/);
  });

  /** A compress slow enough to be interrupted, started in `dir`, once its temporary output is there. */
  async function slowCompress(dir: string, seed: number) {
    const random = rng(seed);
    const data = new Uint8Array(16 * 1048576).map(() => random() * 256);
    writeFileSync(join(dir, 'big.safetensors'), safetensors({ w: { dtype: 'BF16', shape: [4096, 2048], data_offsets: [0, data.length] } }, data));
    // --best tries zstd -19 on every plane: slow enough to be interrupted mid-way.
    const child = spawn(process.execPath, [CLI, 'compress', '--best', '-T', '4', 'big.safetensors'], { cwd: dir });
    const output = { stderr: '' };
    child.stderr.on('data', (piece: Buffer) => (output.stderr += piece));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : null))));
    const started = Date.now();
    while (tempFiles(dir).length === 0 && Date.now() - started < 20000) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(tempFiles(dir).length, 1, `no temporary output appeared: ${output.stderr}`);
    return { child, exited, output };
  }

  // Each signal a terminal, a pipe or a user may send: the temporary output goes, the exit status says which signal.
  for (const [signal, number] of [['SIGHUP', 1], ['SIGINT', 2], ['SIGQUIT', 3], ['SIGPIPE', 13], ['SIGTERM', 15]] as const) {
    it(`${signal} with four workers removes the temporary output and exits with ${128 + number}`, async () => {
      const dir = tempDir();
      const { child, exited, output } = await slowCompress(dir, number);
      const signalled = Date.now();
      child.kill(signal);
      assert.equal(await exited, 128 + number, output.stderr);
      // The issue asks for an exit within a second of the signal; twice that leaves room for a loaded machine.
      assert.ok(Date.now() - signalled < 2000, `took ${Date.now() - signalled} ms to exit`);
      assert.deepEqual(readdirSync(dir), ['big.safetensors']);
    });
  }

  it('what kill -9 left is removed by the next output into its folder; a running process\'s, another machine\'s and the user\'s files stay', async () => {
    const dir = tempDir();
    const { child, exited } = await slowCompress(dir, 9);
    child.kill('SIGKILL');
    assert.equal(await exited, 137);
    const [left] = tempFiles(dir);
    const [, machine, pid] = /^\.big\.safetensors\.mth\.tmp-([0-9a-f]{8})-(\d+)-[0-9a-z]+$/.exec(left!)!;
    assert.equal(Number(pid), child.pid);
    // A folder a killed `store get` left, and what must stay: a running process's, another machine's, the user's.
    mkdirSync(join(dir, `.run.tmp-${machine}-${pid}`));
    writeFileSync(join(dir, `.run.tmp-${machine}-${pid}`, 'model.safetensors'), 'partial');
    const kept = [`.a.mth.tmp-${machine}-${process.pid}-abc`, `.b.mth.tmp-${machine === '00000000' ? '00000001' : '00000000'}-${pid}-abc`, '.notes.tmp-1-x', `b.tmp-${machine}-${pid}`];
    for (const name of kept) writeFileSync(join(dir, name), 'keep');
    copyFileSync(fixture(CNN), join(dir, 'm.safetensors'));
    assert.equal(mithril(dir, ['compress', '-q', 'm.safetensors']).code, 0);
    assert.deepEqual(readdirSync(dir).sort(), [...kept, 'big.safetensors', 'm.safetensors', 'm.safetensors.mth'].sort());
  });

  it('-T beyond 4 per core is a one-line usage error, and nothing is written', () => {
    const { dir } = workspace();
    const run = mithril(dir, ['compress', '-f', '-T', '1000', 'm.safetensors']);
    assert.equal(run.code, 2);
    assert.match(run.stderr.trim(), /^mithril: error: option '-T, --threads <n>' argument '1000' is invalid\. expected 1 to \d+ threads/);
    assert.equal(run.stderr.trim().split('\n').length, 1);
    assert.deepEqual(tempFiles(dir), []);
  });
});

describe('pipes', () => {
  const pt = readFileSync(fixture('cnn_train_epoch6.pt'));

  it('a torch.save stream from a pipe: compress - | decompress - restores it, and the spool file in TMPDIR is gone', () => {
    const dir = tempDir();
    const spool = join(dir, 'tmp');
    mkdirSync(spool);
    writeFileSync(join(dir, 'in.pt'), pt);
    const run = mithril(dir, [], { shell: 'cat in.pt | $MITHRIL compress -q - | $MITHRIL decompress -q - > out.pt', env: { TMPDIR: spool } });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(readFileSync(join(dir, 'out.pt')), pt);
    assert.deepEqual(readdirSync(spool), []);
  });

  it('compress - < file and -c / -o - write the same container to stdout, recording no name for stdin', async () => {
    const { dir } = workspace();
    const fromRedirect = mithril(dir, [], { shell: '$MITHRIL compress -q - < m.safetensors' }).stdout;
    const fromPipe = mithril(dir, ['compress', '-q', '-c', '-'], { input: readFileSync(join(dir, 'm.safetensors')) }).stdout;
    const named = mithril(dir, ['compress', '-q', '-o', '-', 'm.safetensors']).stdout;
    assert.deepEqual(fromRedirect, fromPipe);
    assert.deepEqual(named, readFileSync(join(dir, 'm.safetensors.mth')));
    writeFileSync(join(dir, 'piped.mth'), fromPipe);
    assert.equal((await readIndex(join(dir, 'piped.mth'))).index.source.name, '');
  });

  it('decompress -c and extract -c / -o - stream to stdout', () => {
    const { dir, original } = workspace();
    assert.deepEqual(mithril(dir, ['decompress', '-q', '-c', 'm.safetensors.mth']).stdout, original);
    const raw = mithril(dir, ['extract', 'm.safetensors.mth', 'fc.weight', '-o', '-']);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(mithril(dir, ['extract', 'm.safetensors.mth', 'fc.weight']).code, 0);
    assert.deepEqual(raw.stdout, readFileSync(join(dir, 'fc.weight.raw')));
    assert.deepEqual(mithril(dir, ['extract', '-c', 'm.safetensors.mth', 'fc.weight']).stdout, raw.stdout);
    assert.ok(!existsSync(join(dir, '-')));
  });

  it('a reader that goes away (| head) ends the command quietly with status 141, as SIGPIPE would', () => {
    const { dir } = workspace();
    const run = mithril(dir, [], { shell: '$MITHRIL decompress -c m.safetensors.mth | head -c 100 > /dev/null; echo ${PIPESTATUS[0]}' });
    assert.equal(run.stdout.toString().trim(), '141');
    assert.equal(run.stderr, '');
  });

  it('--rm needs a file on both sides', () => {
    const { dir } = workspace();
    assertOneLine(mithril(dir, ['compress', '-f', '--rm', '-c', 'm.safetensors']), 'error', /--rm needs a file input and a file output/, 2);
    assert.ok(existsSync(join(dir, 'm.safetensors')));
  });

  it('refuses to write compressed bytes to a terminal', () => {
    const { dir } = workspace();
    const run = mithril(dir, [], { shell: 'script -qec "$MITHRIL compress -c m.safetensors" /dev/null' });
    assert.equal(run.code, 1);
    assert.match(run.stdout.toString(), /mithril: stdout: is a terminal: compressed data is not written to one/);
    assert.ok(run.stdout.length < 400, 'compressed bytes reached the terminal');
  });

  it('a damaged chunk while streaming to stdout: the bytes before it, then a one-line error and exit 1', async () => {
    const { dir, original } = workspace();
    const { index } = (await readIndex(join(dir, 'm.safetensors.mth')));
    const victim = index.chunks[2]!;
    const damaged = readFileSync(join(dir, 'm.safetensors.mth'));
    damaged[victim.offset + 10] ^= 0xff;
    writeFileSync(join(dir, 'bad.mth'), damaged);
    const run = mithril(dir, ['decompress', '-T', '1', '-c', 'bad.mth']);
    assertOneLine(run, 'bad.mth', /(checksum mismatch in|corrupted) chunk 2 /);
    assert.deepEqual(run.stdout, original.subarray(0, victim.rawOffset));
  });
});

describe('bases that do not help are not recorded', () => {
  it('an unrelated base is reported on stderr and not needed to decompress or verify', async () => {
    const { dir, original } = workspace();
    copyFileSync(fixture('gpt_step500_layer0.fp16.safetensors'), join(dir, 'other.safetensors'));
    const run = mithril(dir, ['compress', '-f', 'm.safetensors', '--base', 'other.safetensors']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^mithril: base other\.safetensors: no tensor matched \(same name, dtype and shape\); coded alone/m);
    assert.equal((await readIndex(join(dir, 'm.safetensors.mth'))).index.bases, undefined);
    assert.equal(mithril(dir, ['verify', 'm.safetensors.mth']).code, 0);
    assert.equal(mithril(dir, ['decompress', '-q', '-c', 'm.safetensors.mth']).stdout.equals(original), true);
  });

  it('a base with the same tensors but no gain is reported as such and not recorded', async () => {
    const dir = tempDir();
    const random = rng(7);
    const tensor = (data: Uint8Array) => safetensors({ w: { dtype: 'BF16', shape: [256, 512], data_offsets: [0, data.length] } }, data);
    const smooth = new Uint8Array(256 * 1024).map((_, i) => (i % 2 ? 0x3c : (i * 7) & 0xff));
    writeFileSync(join(dir, 'new.safetensors'), tensor(smooth));
    writeFileSync(join(dir, 'noise.safetensors'), tensor(new Uint8Array(smooth.length).map(() => random() * 256)));
    const result = await compressFile(join(dir, 'new.safetensors'), { bases: [join(dir, 'noise.safetensors')] });
    assert.deepEqual(result.unusedBases, [{ path: join(dir, 'noise.safetensors'), reason: 'no-gain' }]);
    assert.equal((await readIndex(result.output)).index.bases, undefined);
  });

  it('the same base given twice (original and .mth) is one base', async () => {
    const dir = tempDir();
    copyFileSync(fixture('cnn_epoch6.bf16.safetensors'), join(dir, 'e6.safetensors'));
    copyFileSync(fixture('cnn_epoch5.bf16.safetensors'), join(dir, 'e5.safetensors'));
    assert.equal(mithril(dir, ['compress', '-q', 'e5.safetensors']).code, 0);
    const run = mithril(dir, ['compress', 'e6.safetensors', '--base', 'e5.safetensors', '--base', 'e5.safetensors.mth']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await readIndex(join(dir, 'e6.safetensors.mth'))).index.bases?.length, 1);
    assert.equal(mithril(dir, ['decompress', '-q', '-c', 'e6.safetensors.mth', '--base', 'e5.safetensors.mth']).code, 0);
  });

  it('--strong without --base says that it changes nothing there', () => {
    const { dir } = workspace();
    const run = mithril(dir, ['compress', '-f', '--strong', 'm.safetensors']);
    assert.equal(run.code, 0);
    assert.match(run.stderr, /--strong changes only coding against a --base/);
  });

  it('with --base the strong coder is the default (--strong names it too); --fast is the quick one; both at once is refused', async () => {
    const dir = tempDir();
    copyFileSync(fixture('cnn_epoch6.bf16.safetensors'), join(dir, 'e6.safetensors'));
    copyFileSync(fixture('cnn_epoch5.bf16.safetensors'), join(dir, 'e5.safetensors'));
    const codings = async (flags: string[]): Promise<string[]> => {
      const run = mithril(dir, ['compress', '-q', '-f', ...flags, 'e6.safetensors', '--base', 'e5.safetensors']);
      assert.equal(run.code, 0, run.stderr);
      return [...new Set((await readIndex(join(dir, 'e6.safetensors.mth'))).index.chunks.flatMap((c) => (c.delta ? [c.delta.coding] : [])))];
    };
    assert.deepEqual(await codings([]), ['rans']);
    assert.deepEqual(await codings(['--strong']), ['rans']);
    assert.deepEqual(await codings(['--fast']), ['planes']);
    const both = mithril(dir, ['compress', '-q', '-f', '--fast', '--strong', 'e6.safetensors', '--base', 'e5.safetensors']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^mithril: error: --fast and --strong name two different delta coders\n$/);
  });
});

describe('recognising inputs and outputs', () => {
  it('a folder as input hints at -r', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'run'));
    assertOneLine(mithril(dir, ['compress', 'run']), 'run', /is a directory \(use -r to compress the checkpoints in it\)/);
    assertOneLine(mithril(dir, ['decompress', 'run']), 'run', /is a directory \(use -r to decompress the \.mth files in it\)/);
  });

  it('an existing folder as -o means inside it, with or without -f; -r mirrors the folders found', () => {
    const { dir, original } = workspace();
    mkdirSync(join(dir, 'out'));
    assert.equal(mithril(dir, ['compress', '-q', 'm.safetensors', '-o', 'out']).code, 0);
    assert.equal(mithril(dir, ['compress', '-q', '-f', 'm.safetensors', '-o', 'out/']).code, 0);
    assert.deepEqual(readdirSync(join(dir, 'out')), ['m.safetensors.mth']);
    assert.equal(mithril(dir, ['decompress', '-q', 'out/m.safetensors.mth', '-o', 'out']).code, 0);
    assert.deepEqual(readFileSync(join(dir, 'out', 'm.safetensors')), original);

    mkdirSync(join(dir, 'run', 'step1'), { recursive: true });
    copyFileSync(fixture(CNN), join(dir, 'run', 'step1', 'a.safetensors'));
    copyFileSync(fixture('cnn_epoch5.bf16.safetensors'), join(dir, 'run', 'b.safetensors'));
    mkdirSync(join(dir, 'packed'));
    const run = mithril(dir, ['compress', '-q', '-r', 'run', '-o', 'packed']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(statSync(join(dir, 'packed', 'step1', 'a.safetensors.mth')).isFile());
    assert.ok(statSync(join(dir, 'packed', 'b.safetensors.mth')).isFile());
    assertOneLine(mithril(dir, ['compress', 'm.safetensors', 'run/b.safetensors', '-o', 'new.mth']), 'error', /-o with several inputs must be an existing folder/, 2);
  });

  it('a container whose name does not tell restores to the recorded original name, never to a path from inside it', async () => {
    const { dir, original } = workspace();
    assert.equal(mithril(dir, ['compress', '-q', 'm.safetensors', '-o', 'd500.mth']).code, 0);
    const restore = mithril(dir, ['decompress', '-f', 'd500.mth']);
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(restore.stderr, /=> m\.safetensors$/m);
    assert.ok(!existsSync(join(dir, 'd500')));
    assert.deepEqual(readFileSync(join(dir, 'm.safetensors')), original);

    const sink = new MemorySink();
    await compressStream(new BufferSource(original, 'x'), sink, { originalName: '../escaped.safetensors' });
    writeFileSync(join(dir, 'hostile.mth'), sink.bytes());
    assert.equal(mithril(dir, ['decompress', '-q', 'hostile.mth']).code, 0);
    assert.deepEqual(readFileSync(join(dir, 'hostile')), original);
    assert.ok(!existsSync(join(dir, '..', 'escaped.safetensors')));
  });

  it('a renamed .mth, an empty file and a truncated file each say which', () => {
    const { dir } = workspace();
    const packed = readFileSync(join(dir, 'm.safetensors.mth'));
    writeFileSync(join(dir, 'renamed.bin'), packed);
    writeFileSync(join(dir, 'empty.safetensors'), '');
    writeFileSync(join(dir, 'cut.mth'), packed.subarray(0, packed.length >> 1));
    writeFileSync(join(dir, 'cut.safetensors'), readFileSync(join(dir, 'm.safetensors')).subarray(0, 300000));
    assertOneLine(mithril(dir, ['compress', 'renamed.bin']), 'renamed.bin', /is already a mithril container \(a renamed \.mth\?\)/);
    assertOneLine(mithril(dir, ['compress', 'empty.safetensors']), 'empty.safetensors', /is empty/);
    assertOneLine(mithril(dir, ['decompress', 'empty.safetensors', '-o', 'x']), 'empty.safetensors', /is empty/);
    assertOneLine(mithril(dir, ['decompress', 'cut.mth']), 'cut.mth', /^mithril: cut\.mth: truncated/);
    assertOneLine(mithril(dir, ['compress', 'cut.safetensors']), 'cut.safetensors', /^mithril: cut\.safetensors: truncated/);
  });
});

describe('library', () => {
  it('verifyFile reports sizes and checksum, not the whole index; errors carry a stable code', async () => {
    const { dir, original } = workspace();
    const verified = await verifyFile(join(dir, 'm.safetensors.mth'));
    assert.deepEqual(Object.keys(verified).sort(), ['chunks', 'compressedSize', 'input', 'originalSize', 'xxh64']);
    assert.equal(verified.originalSize, original.length);

    copyFileSync(fixture('cnn_epoch5.bf16.safetensors'), join(dir, 'e5.safetensors'));
    const delta = await compressFile(join(dir, 'm.safetensors'), { bases: [join(dir, 'e5.safetensors')], output: join(dir, 'd.mth') });
    const failure = (promise: Promise<unknown>) => promise.then(() => assert.fail('no error'), (error: unknown) => error as MithrilError);
    const needsBase = await failure(decompressFile(delta.output, { output: join(dir, 'x') }));
    assert.ok(needsBase instanceof MithrilError);
    assert.equal(needsBase.code, 'NEEDS_BASE');
    assert.equal((await failure(verifyFile(join(dir, 'nothing.mth')))).code, 'NOT_FOUND');
    assert.equal((await failure(compressFile(join(dir, 'm.safetensors')))).code, 'EXISTS');
    assert.equal((await failure(decompressFile(delta.output, { output: join(dir, 'x'), bases: [join(dir, 'm.safetensors')] }))).code, 'WRONG_BASE');
  });
});
