import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatProgressLine, RecentRate } from '../src/cli/progress.js';
import { CLI, rng, safetensors, tempDir } from './helpers.js';

const MiB = 1024 * 1024;
const LONG = 'compress some/very/long/path/to/the/checkpoints/of/run-42/model-00001-of-00004.safetensors';
const SHORT = 'compress some/long/path/model.safetensors';
const at = (columns: number, label = LONG) =>
  formatProgressLine({ columns, label, done: 450 * MiB, total: 1000 * MiB, bytesPerSecond: 250 * MiB, etaSeconds: 2.2 });
const barWidth = (line: string) => /\[([=-]*)\]/.exec(line)?.[1]!.length ?? 0;

describe('progress line', () => {
  it('fits 80 columns with a long label, keeping percentage, MiB/s and ETA', () => {
    for (const label of [LONG, SHORT]) {
      const line = at(80, label);
      assert.ok(line.length <= 80, line);
      assert.match(line, / 45% /);
      assert.match(line, /250 MiB\/s/);
      assert.match(line, /ETA 0:03$/);
    }
    assert.match(at(80), /^compress some.*….*model-00001-of-00004\.safetensors /);
  });

  it('shows dashes while there is no rate yet', () => {
    const line = formatProgressLine({ columns: 80, label: SHORT, done: 0, total: 1000 * MiB, bytesPerSecond: 0, etaSeconds: undefined });
    assert.match(line, /   0% -- MiB\/s ETA --:--$/);
  });

  it('gives the bar the room left: wider at 120 columns than at 80', () => {
    assert.ok(barWidth(at(80, SHORT)) >= 10, at(80, SHORT));
    assert.ok(barWidth(at(120, SHORT)) > barWidth(at(80, SHORT)), at(120, SHORT));
    assert.ok(at(120, SHORT).length <= 120);
    assert.match(at(120, SHORT), /450\/1000 MiB/);
  });

  it('at 40 columns drops the bar and shortens the label, percentage and ETA still shown', () => {
    for (const label of [LONG, SHORT]) {
      const line = at(40, label);
      assert.ok(line.length <= 40, line);
      assert.equal(barWidth(line), 0, line);
      assert.match(line, /^comp.*…\S* +45% 250 MiB\/s ETA 0:03$/);
    }
  });
});

describe('recent rate', () => {
  it('bases the ETA on the slow recent rate after a slowdown, not the average since start', () => {
    const rate = new RecentRate(0);
    // 10 s at 100 MiB/s, then 5 s at 10 MiB/s: 1050 of 1100 MiB done, 70 MiB/s on average since start.
    for (let ms = 500; ms <= 10_000; ms += 500) rate.add(ms, (ms / 1000) * 100 * MiB);
    for (let ms = 10_500; ms <= 15_000; ms += 500) rate.add(ms, 1000 * MiB + ((ms - 10_000) / 1000) * 10 * MiB);
    assert.ok(Math.abs(rate.bytesPerSecond() / MiB - 10) < 1e-9, String(rate.bytesPerSecond() / MiB));
    const eta = rate.etaSeconds(1100 * MiB)!;
    assert.ok(Math.abs(eta - 5) < 1e-9, `ETA ${eta} s, expected 5 s (since-start average would say ${50 / 70} s)`);
  });

  it('uses the average since start while the window is filling, and gives no rate over less than 250 ms', () => {
    const rate = new RecentRate(1000);
    assert.equal(rate.etaSeconds(100), undefined);
    rate.add(1003, 88);
    assert.equal(rate.bytesPerSecond(), 0);
    assert.equal(rate.etaSeconds(100), undefined);
    rate.add(2000, 40 * MiB);
    rate.add(3000, 60 * MiB);
    assert.equal(rate.bytesPerSecond(), 30 * MiB);
    assert.equal(rate.etaSeconds(120 * MiB), 2);
  });
});

// The real CLI under a pseudo-terminal of 80 columns (util-linux `script`).
const hasScript = existsSync('/usr/bin/script') && spawnSync('script', ['-qec', 'true', '/dev/null']).status === 0;

describe('progress bar in a terminal', { skip: !hasScript && 'needs util-linux script' }, () => {
  it('renders the label, percentage and ETA on lines no wider than 80 columns', () => {
    const dir = tempDir();
    const data = new Uint32Array(16 * MiB);
    const random = rng(7);
    for (let i = 0; i < data.length; i++) data[i] = (random() * 2 ** 32) >>> 0;
    const header = { weight: { dtype: 'BF16', shape: [8192, 4096], data_offsets: [0, data.byteLength] } };
    const input = join(dir, 'model-with-a-rather-long-name-for-the-progress-line.safetensors');
    writeFileSync(input, safetensors(header, new Uint8Array(data.buffer)));
    const command = `stty cols 80 rows 24; COLUMNS=80 '${process.execPath}' '${CLI}' compress -f -T 1 '${input}' -o '${join(dir, 'out.mth')}'`;
    const run = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true }); // 128 MiB of input and output: not left in /tmp
    assert.equal(run.status, 0, run.stdout + run.stderr);
    // Each redraw starts with a move to column 1 (ESC[1G, or ESC 8 restoring the saved position): a new line here.
    const lines = run.stdout.replace(/\x1b\[\d*G|\x1b8/g, '\r').replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b7/g, '').split(/[\r\n]/);
    const bars = lines.filter((line) => line.includes('ETA'));
    assert.ok(bars.length > 0, run.stdout);
    for (const line of bars) {
      assert.match(line, /^compress .*…\S* +\d+% .* MiB\/s ETA /);
      assert.ok([...line].length <= 80, `${[...line].length} columns: ${line}`);
    }
  });
});
