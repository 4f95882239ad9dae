import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planChunks } from '../src/chunks/plan.js';
import type { Layout, TensorSegment } from '../src/formats/layout.js';

function layoutOf(tensors: Array<Omit<TensorSegment, 'kind' | 'offset'>>): Layout {
  let offset = 0;
  const segments = tensors.map((t) => {
    const segment: TensorSegment = { kind: 'tensor', offset, ...t };
    offset += t.length;
    return segment;
  });
  return { format: 'safetensors', size: offset, segments };
}

describe('chunk planning', () => {
  it('cuts a large matrix into near-equal pieces of whole rows, none over the chunk size', () => {
    const layout = layoutOf([
      { name: 'w', dtype: 'BF16', shape: [300, 1000], length: 600_000 },
      { name: 'conv', dtype: 'F32', shape: [40, 30, 3, 3], length: 43_200 },
    ]);
    const chunks = planChunks(layout, 65_536, 1024);
    const w = chunks.filter((c) => c.tensor?.name === 'w');
    assert.equal(w.length, 10);
    for (const c of w) {
      assert.equal(c.length % 2000, 0);
      assert.ok(c.length <= 65_536);
    }
    const conv = chunks.filter((c) => c.tensor?.name === 'conv');
    for (const c of conv) assert.equal(c.length % (30 * 9 * 4), 0);
    let at = 0;
    for (const c of chunks) {
      assert.equal(c.offset, at);
      at += c.length;
    }
    assert.equal(at, layout.size);
  });

  it('cuts whole elements where a row does not fit a chunk, or the tensor is a vector', () => {
    const layout = layoutOf([
      { name: 'wide', dtype: 'F32', shape: [2, 20_000], length: 160_000 },
      { name: 'v', dtype: 'BF16', shape: [50_001], length: 100_002 },
    ]);
    const chunks = planChunks(layout, 65_536, 1024);
    for (const c of chunks) {
      assert.ok(c.length <= 65_536);
      assert.equal(c.length % (c.tensor!.dtype === 'F32' ? 4 : 2), 0);
    }
    assert.equal(chunks.filter((c) => c.tensor?.name === 'wide').length, 3);
  });
});
