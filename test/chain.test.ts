import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openBase, type GivenBase } from '../src/chunks/bases.js';
import { compressBuffer, decompressBuffer, MithrilError } from '../src/index.js';
import { BufferSource } from '../src/io/source.js';
import { readFixture } from './helpers.js';

const epoch = (n: number): Buffer => readFixture(`cnn_epoch${n}.bf16.safetensors`);
const given = async (path: string, bytes: Uint8Array, bases: GivenBase[] = []): Promise<GivenBase> => ({ path, base: await openBase(new BufferSource(bytes, path), bases) });

describe('a chain of deltas as a base', () => {
  it('a delta-coded .mth serves as a base through its own base, two links deep, and restores bit-exactly', async () => {
    const e4 = await given('e4.safetensors', epoch(4));
    const e5mth = await compressBuffer(epoch(5), { name: 'e5.safetensors', bases: [e4.base] });
    const e5 = await given('e5.mth', e5mth, [e4]);
    assert.deepEqual(e5.base.identity, (await given('e5.safetensors', epoch(5))).base.identity, 'the container stands for its original bytes');

    const e6mth = await compressBuffer(epoch(6), { name: 'e6.safetensors', bases: [e5.base] });
    assert.deepEqual(Buffer.from(await decompressBuffer(e6mth, { bases: [e5] })), epoch(6));
    // The original e5 is interchangeable with its delta-coded container.
    assert.deepEqual(Buffer.from(await decompressBuffer(e6mth, { bases: [await given('e5.safetensors', epoch(5))] })), epoch(6));

    // Two links: e6.mth -> e5.mth -> e4 as the base of another checkpoint.
    const e6 = await given('e6.mth', e6mth, [e5]);
    const back = await compressBuffer(epoch(4), { name: 'e4.safetensors', bases: [e6.base] });
    assert.ok(back.length < epoch(4).length / 2, `coded against the chain: ${back.length} bytes`);
    assert.deepEqual(Buffer.from(await decompressBuffer(back, { bases: [e6] })), epoch(4));
  });

  it('a delta-coded .mth without its own bases is refused with one line naming it', async () => {
    const e4 = await given('e4.safetensors', epoch(4));
    const e5mth = await compressBuffer(epoch(5), { name: 'e5.safetensors', bases: [e4.base] });
    await assert.rejects(given('e5.mth', e5mth), (error: unknown) => error instanceof MithrilError && error.code === 'NEEDS_BASE' && /^e5\.mth: is itself delta-coded/.test(error.message));
    const wrong = await given('e6.safetensors', epoch(6));
    await assert.rejects(given('e5.mth', e5mth, [wrong]), (error: unknown) => error instanceof MithrilError && error.code === 'WRONG_BASE');
  });
});
