import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REFERENCE, storeAdd, storeGet, storeList, storeRm, storeVerify } from '../src/store/store.js';
import { CLI, fixture, tempDir } from './helpers.js';

function mithril(cwd: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd });
  return { code: run.status, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

/** A Trainer-style checkpoint folder for a cnn epoch: weights, optimizer state, configs (one in a subfolder). */
function checkpointFolder(root: string, epoch: number): string {
  const dir = join(root, `checkpoint-${epoch}`);
  mkdirSync(join(dir, 'tokenizer'), { recursive: true });
  copyFileSync(fixture(`cnn_epoch${epoch}.bf16.safetensors`), join(dir, 'model.safetensors'));
  if (epoch >= 5) copyFileSync(fixture(`cnn_train_epoch${epoch}.pt`), join(dir, 'optimizer.pt'));
  writeFileSync(join(dir, 'config.json'), '{"channels": [32, 64]}\n');
  writeFileSync(join(dir, 'trainer_state.json'), JSON.stringify({ epoch }) + '\n');
  writeFileSync(join(dir, 'tokenizer', 'vocab.txt'), 'a\nb\nc\n');
  return dir;
}

/** Every file under `dir` with its bytes, by relative path. */
function tree(dir: string, under = ''): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(join(dir, under))) {
    const path = under ? `${under}/${name}` : name;
    if (statSync(join(dir, path)).isDirectory()) for (const [p, b] of tree(dir, path)) files.set(p, b);
    else files.set(path, readFileSync(join(dir, path)));
  }
  return files;
}

describe('store: folder entries and a reference model', () => {
  it('adds Trainer checkpoint folders: checkpoints paired by path, other files kept as they are, each folder restored whole', async () => {
    const root = tempDir();
    const dir = join(root, 'run');
    const folders = [4, 5, 6].map((epoch) => checkpointFolder(root, epoch));
    for (const folder of folders) await storeAdd(dir, folder);
    const entries = await storeList(dir);
    assert.deepEqual(entries.map((e) => [e.name, e.kind, e.bases, e.depth]), [
      ['checkpoint-4', 'folder', [], 0],
      ['checkpoint-5', 'folder', [1], 1],
      ['checkpoint-6', 'folder', [2, 1], 2],
    ]);
    const member = (seq: number, path: string) => entries[seq - 1]!.members.find((m) => m.path === path)!;
    assert.deepEqual(member(3, 'model.safetensors').bases, [2, 1]);
    assert.deepEqual(member(3, 'optimizer.pt').bases, [2], 'epoch 4 has no optimizer.pt to pair with');
    assert.equal(member(2, 'optimizer.pt').bases.length, 0);
    assert.equal(member(3, 'trainer_state.json').raw, true);
    // An unchanged config is one file on disk for the whole run.
    assert.equal(member(3, 'tokenizer/vocab.txt').stored, 0);
    assert.equal(statSync(join(dir, 'data', member(1, 'config.json').file)).nlink, 3);
    for (const [i, folder] of folders.entries()) {
      const out = join(root, `restored-${i}`);
      await storeGet(dir, `checkpoint-${i + 4}`, { output: out });
      assert.deepEqual(tree(out), tree(folder));
    }
    assert.deepEqual(await storeVerify(dir), { entries: 3, problems: [] });
    // Removing the middle entry re-codes the files that needed it, and keeps the linked ones.
    assert.deepEqual(await storeRm(dir, 'checkpoint-5'), { recoded: ['checkpoint-6'] });
    await storeGet(dir, 'checkpoint-6', { output: join(root, 'again') });
    assert.deepEqual(tree(join(root, 'again')), tree(folders[2]!));
    assert.deepEqual(await storeVerify(dir), { entries: 2, problems: [] });
  });

  it('refuses what a folder entry cannot be restored to, and names a damaged kept file', async () => {
    const root = tempDir();
    const dir = join(root, 'run');
    await storeAdd(dir, checkpointFolder(root, 5));
    assert.match(mithril(root, ['store', 'get', 'run', 'checkpoint-5', '-c']).stderr, /^mithril: checkpoint-5: is a folder entry: restore it to a folder \(-o DIR\), not to standard output\n$/);
    const exists = mithril(root, ['store', 'get', 'run', 'checkpoint-5']);
    assert.equal(exists.code, 1);
    assert.match(exists.stderr, /^mithril: checkpoint-5: already exists \(a folder entry is restored as a new folder\)\n$/);
    assert.deepEqual(readdirSync(root).sort(), ['checkpoint-5', 'run'], 'no temporary folder left');
    // Folders that would never end, or hold the store, and names that are paths: refused in one line, nothing made.
    symlinkSync('..', join(root, 'checkpoint-5', 'tokenizer', 'up'));
    assert.match(mithril(root, ['store', 'add', 'other', 'checkpoint-5']).stderr, /^mithril: checkpoint-5\/tokenizer\/up: links back to a folder that holds it\n$/);
    unlinkSync(join(root, 'checkpoint-5', 'tokenizer', 'up'));
    assert.match(mithril(root, ['store', 'add', 'run', '.']).stderr, /^mithril: \.: holds the store itself: add the checkpoint folder, not one around the store\n$/);
    assert.equal(mithril(root, ['store', 'add', '-q', 'run', 'checkpoint-5', '--name', '../up']).code, 0);
    assert.match(mithril(root, ['store', 'get', 'run', '../up']).stderr, /^mithril: \.\.\/up: is not a plain file name: name the output with -o\n$/);
    assert.deepEqual(readdirSync(root).sort(), ['checkpoint-5', 'run']);
    const kept = join(dir, 'data', (await storeList(dir))[0]!.members.find((m) => m.path === 'trainer_state.json')!.file);
    chmodSync(kept, 0o644);
    writeFileSync(kept, '{"epoch": 9}\n');
    assert.match((await storeVerify(dir)).problems.find((p) => p.name === 'checkpoint-5')!.problem, /checksum mismatch: not the trainer_state\.json that was added/);
    const get = mithril(root, ['store', 'get', 'run', 'checkpoint-5', '-o', 'out']);
    assert.equal(get.code, 1);
    assert.deepEqual(readdirSync(root).sort(), ['checkpoint-5', 'run'], 'nothing half-restored');
  });

  it('--reference: entries are coded against an outside model, which restores check and ls names', async () => {
    const root = tempDir();
    const reference = join(root, 'pretrained.safetensors');
    copyFileSync(fixture('cnn_epoch4.bf16.safetensors'), reference);
    const [e5, e6] = ['cnn_epoch5.bf16.safetensors', 'cnn_epoch6.bf16.safetensors'].map(fixture) as [string, string];
    const dir = join(root, 'run');
    await storeAdd(dir, e5, { reference });
    await storeAdd(dir, e6); // the store's reference, recorded at its first add
    const entries = await storeList(dir);
    assert.deepEqual(entries.map((e) => [e.bases, e.depth]), [[[REFERENCE], 1], [[1, REFERENCE], 2]]);
    const alone = join(root, 'alone');
    for (const file of [e5, e6]) await storeAdd(alone, file);
    const stored = async (d: string) => (await storeList(d)).reduce((sum, e) => sum + e.stored, 0);
    const [delta, keyframes] = [await stored(dir), await stored(alone)];
    assert.ok(delta < 0.8 * keyframes, `${delta} vs ${keyframes} bytes`);
    const ls = mithril(root, ['store', 'ls', 'run']);
    assert.match(ls.stdout, /^cnn_epoch5\.bf16\.safetensors .* reference +1 /m);
    assert.match(ls.stdout, new RegExp(`^reference ${reference.replace(/[.]/g, '\\.')}: needed by cnn_epoch5\\.bf16\\.safetensors, cnn_epoch6\\.bf16\\.safetensors$`, 'm'));
    await storeGet(dir, 'cnn_epoch6.bf16.safetensors', { output: join(root, 'e6') });
    assert.deepEqual(readFileSync(join(root, 'e6')), readFileSync(e6));
    // Modified, then missing: one line each, and verify names every entry that needs it.
    const bytes = readFileSync(reference);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(reference, bytes);
    const modified = mithril(root, ['store', 'get', 'run', 'cnn_epoch6.bf16.safetensors', '-o', 'x']);
    assert.equal(modified.code, 1);
    assert.match(modified.stderr, /^mithril: [^\n]*pretrained\.safetensors: the reference model was modified \(recorded 625022 bytes, xxh64 [0-9a-f]{16}; now 625022 bytes, [0-9a-f]{16}\)\n$/);
    assert.deepEqual((await storeVerify(dir)).problems.map((p) => p.name), ['cnn_epoch5.bf16.safetensors', 'cnn_epoch6.bf16.safetensors']);
    renameSync(reference, join(root, 'moved'));
    assert.match(mithril(root, ['store', 'get', 'run', 'cnn_epoch5.bf16.safetensors', '-o', 'x']).stderr, /^mithril: [^\n]*pretrained\.safetensors: the reference model is missing: the entries coded against it need it \(mithril store ls shows which\)\n$/);
  });

  it('a reference folder pairs its files by path with a folder entry\'s', async () => {
    const root = tempDir();
    const reference = join(root, 'hub-snapshot');
    mkdirSync(reference);
    copyFileSync(fixture('cnn_epoch4.bf16.safetensors'), join(reference, 'model.safetensors'));
    writeFileSync(join(reference, 'config.json'), '{}\n');
    const dir = join(root, 'run');
    const folder = checkpointFolder(root, 5);
    await storeAdd(dir, folder, { reference });
    const [entry] = await storeList(dir);
    assert.deepEqual(entry!.members.find((m) => m.path === 'model.safetensors')!.bases, [REFERENCE]);
    assert.deepEqual(entry!.members.find((m) => m.path === 'optimizer.pt')!.bases, []);
    await storeGet(dir, 'checkpoint-5', { output: join(root, 'out') });
    assert.deepEqual(tree(join(root, 'out')), tree(folder));
  });

  it('keeps torch.distributed.checkpoint folders: each rank\'s file coded against the same rank\'s at the earlier step', async () => {
    const root = tempDir();
    const dir = join(root, 'run');
    for (const step of [400, 500]) await storeAdd(dir, fixture(`dcp/gpt_step${step}.bf16`));
    const later = (await storeList(dir))[1]!;
    assert.deepEqual(later.members.map((m) => [m.path, m.bases]), [['.metadata', []], ['__0_0.distcp', [1]], ['__1_0.distcp', [1]]]);
    assert.ok(later.size / later.stored > 1.9, `ratio ${(later.size / later.stored).toFixed(3)}`); // 1.50 alone
    await storeGet(dir, 'gpt_step500.bf16', { output: join(root, 'out') });
    assert.deepEqual(tree(join(root, 'out')), tree(fixture('dcp/gpt_step500.bf16')));
  });
});
