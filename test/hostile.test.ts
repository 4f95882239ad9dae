import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFooter, FOOTER_SIZE } from '../src/container/format.js';
import { compressBuffer, decompressBuffer, MithrilError } from '../src/index.js';
import { readFixture } from './helpers.js';

const original = readFixture('cnn_epoch6.bf16.safetensors');
const container = await compressBuffer(original);

async function rejects(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  await assert.rejects(decompressBuffer(bytes, { name: 'x.mth' }), (error: unknown) => {
    assert.ok(error instanceof MithrilError, `not a MithrilError: ${String(error)}`);
    assert.match(error.message, /^x\.mth: /);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
}

describe('damaged containers are refused, never restored wrongly', () => {
  it('truncated at every 4 KiB boundary and at every byte of its index and footer', async () => {
    const footer = decodeFooter(container.subarray(container.length - FOOTER_SIZE));
    assert.ok(typeof footer !== 'string');
    const cuts = new Set<number>();
    for (let at = 0; at < container.length; at += 4096) cuts.add(at);
    for (let at = footer.indexOffset; at < container.length; at++) cuts.add(at);
    assert.ok(cuts.size > 500, `${cuts.size} cuts`);
    for (const at of cuts) await rejects(container.subarray(0, at), /truncated|too short|footer|index|is empty/);
  });

  it('a flipped byte in tensor data names the damaged tensor and chunk', async () => {
    const damaged = new Uint8Array(container);
    damaged[200_000]! ^= 0x10;
    await rejects(damaged, /(checksum mismatch|cannot be decoded) .*chunk \d+ \(tensor "[^"]+"/);
  });

  it('a flipped byte anywhere is detected (sampled every 997 bytes)', async () => {
    for (let at = 0; at < container.length; at += 997) {
      const damaged = new Uint8Array(container);
      damaged[at]! ^= 0x01;
      await rejects(damaged, /./);
    }
  });

  it('not a mithril file', async () => {
    await rejects(original, /not a mithril file/);
  });
});

describe('hostile checkpoints are refused with one clear line', () => {
  const header = (json: string): Buffer => {
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([prefix, Buffer.from(json), Buffer.alloc(16)]);
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ['absurd header length', Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x10]), Buffer.from('{}')]), /header length .* exceeds/],
    ['invalid JSON', header('{"a": '), /invalid JSON header/],
    ['offsets out of range', header('{"a":{"dtype":"U8","shape":[64],"data_offsets":[0,64]}}'), /beyond the end of file/],
    ['overlapping tensors', header('{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}}'), /overlap/],
    ['not a checkpoint', Buffer.from('hello world, not a checkpoint'), /not a recognised checkpoint format/],
    ['truncated checkpoint', original.subarray(0, 5000), /exceeds file size|beyond the end of file/],
  ];
  it('a checkpoint truncated anywhere is refused (every 997 bytes)', async () => {
    for (let at = 0; at < original.length; at += 997) {
      await assert.rejects(compressBuffer(original.subarray(0, at), { name: 'cut.safetensors' }), (error: unknown) => {
        assert.ok(error instanceof MithrilError, `cut at ${at}: not a MithrilError: ${String(error)}`);
        assert.match(error.message, /^cut\.safetensors: /);
        return true;
      });
    }
  });

  for (const [title, bytes, pattern] of cases) {
    it(title, async () => {
      await assert.rejects(compressBuffer(bytes, { name: 'bad.safetensors' }), (error: unknown) => {
        assert.ok(error instanceof MithrilError, `not a MithrilError: ${String(error)}`);
        assert.match(error.message, /^bad\.safetensors: /);
        assert.match(error.message, pattern);
        return true;
      });
    });
  }
});
