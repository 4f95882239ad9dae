import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MithrilError } from '../src/errors.js';
import type { Layout, TensorSegment } from '../src/formats/layout.js';
import { BufferSource, FileSource, type ByteSource } from '../src/io/source.js';
import { SAFETENSORS_MAX_HEADER, looksLikeSafetensors, readSafetensorsLayout } from '../src/formats/safetensors.js';

const FIXTURES = new URL('../../fixtures/', import.meta.url);

interface TensorSpec {
  name: string;
  dtype: string;
  shape: unknown[];
  begin: number;
  end: number;
}

/** A safetensors file from a header (an object to serialise, or raw JSON text) and the data buffer. */
function fromHeader(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  return withPrefix(BigInt(json.length), json, data);
}

function withPrefix(headerLength: bigint, ...parts: Uint8Array[]): Uint8Array {
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, headerLength, true);
  return Buffer.concat([prefix, ...parts]);
}

/** Tensors go into the JSON in the order given; data defaults to zeros up to the furthest tensor end. */
function build(tensors: TensorSpec[], metadata?: unknown, data?: Uint8Array): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header.__metadata__ = metadata;
  for (const t of tensors) header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [t.begin, t.end] };
  const dataSize = Math.max(0, ...tensors.map((t) => t.end));
  return fromHeader(header, data ?? new Uint8Array(dataSize));
}

async function layoutOf(bytes: Uint8Array): Promise<Layout> {
  return (await readSafetensorsLayout(new BufferSource(bytes, 'test.safetensors')));
}

function headerEnd(bytes: Uint8Array): number {
  return 8 + Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
}

/** Segments start with the header and tile [0, size) in order with no gaps or overlaps. */
function assertCovers(layout: Layout, size: number): void {
  assert.equal(layout.format, 'safetensors');
  assert.equal(layout.size, size);
  assert.equal(layout.segments[0]?.kind, 'opaque');
  assert.equal(layout.segments[0].kind === 'opaque' && layout.segments[0].role, 'header');
  let cursor = 0;
  for (const s of layout.segments) {
    assert.equal(s.offset, cursor, `segment ${JSON.stringify(s)} should start at ${cursor}`);
    assert.ok(s.length >= 0);
    cursor += s.length;
  }
  assert.equal(cursor, size);
}

/** Compact description of the segments after the header, for exact comparisons. */
function shapeOf(layout: Layout, dataStart: number): string[] {
  return layout.segments.slice(1).map((s) =>
    s.kind === 'tensor'
      ? `${s.name}@${s.offset - dataStart}+${s.length}`
      : `<${s.role}>@${s.offset - dataStart}+${s.length}`,
  );
}

function tensors(layout: Layout): TensorSegment[] {
  return layout.segments.filter((s): s is TensorSegment => s.kind === 'tensor');
}

async function assertRejects(bytes: Uint8Array | ByteSource, ...phrases: string[]): Promise<void> {
  const name = 'hostile.safetensors';
  const source = bytes instanceof Uint8Array ? new BufferSource(bytes, name) : bytes;
  await assert.rejects(
    () => readSafetensorsLayout(source),
    (err: unknown) => {
      assert.ok(err instanceof MithrilError, `expected a MithrilError, got ${String(err)}`);
      assert.equal(err.file, source.name);
      assert.ok(err.message.startsWith(`${source.name}: `), err.message);
      assert.ok(!err.message.includes('\n'), `message should be one line: ${JSON.stringify(err.message)}`);
      for (const phrase of phrases) {
        assert.ok(err.message.includes(phrase), `message ${JSON.stringify(err.message)} should contain ${JSON.stringify(phrase)}`);
      }
      return true;
    },
  );
}

test('real fixture: cnn_epoch6.bf16.safetensors', async () => {
  const path = fileURLToPath(new URL('cnn_epoch6.bf16.safetensors', FIXTURES));
  const bytes = readFileSync(path);
  const source = new FileSource(path);
  let layout: Layout;
  try {
    layout = (await readSafetensorsLayout(source));
  } finally {
    source.close();
  }
  assertCovers(layout, bytes.length);
  assert.equal(layout.segments[0].length, headerEnd(bytes));

  const header = JSON.parse(bytes.subarray(8, headerEnd(bytes)).toString('utf8')) as Record<string, unknown>;
  const ts = tensors(layout);
  assert.equal(ts.length, Object.keys(header).filter((k) => k !== '__metadata__').length);
  let bf16 = 0;
  for (const t of ts) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t.dtype === 'BF16') {
      bf16++;
      assert.equal(t.length, numel * 2, t.name);
    } else {
      assert.equal(t.dtype, 'I64', t.name);
      assert.equal(t.length, numel * 8, t.name);
    }
  }
  assert.ok(bf16 > 0);
  const conv1 = ts.find((t) => t.name === 'conv1.weight');
  assert.deepEqual(conv1?.shape, [32, 3, 3, 3]);
  assert.ok(looksLikeSafetensors(bytes.subarray(0, 16), bytes.length));
});

test('tensors stored out of header order are laid out in file order', async () => {
  const bytes = build([
    { name: 'c', dtype: 'F32', shape: [2], begin: 8, end: 16 },
    { name: 'a', dtype: 'F16', shape: [2, 2], begin: 16, end: 24 },
    { name: 'b', dtype: 'U8', shape: [8], begin: 0, end: 8 },
  ]);
  const layout = (await layoutOf(bytes));
  assertCovers(layout, bytes.length);
  assert.deepEqual(shapeOf(layout, headerEnd(bytes)), ['b@0+8', 'c@8+8', 'a@16+8']);
  const a = tensors(layout).find((t) => t.name === 'a');
  assert.deepEqual(a, { kind: 'tensor', name: 'a', dtype: 'F16', shape: [2, 2], offset: headerEnd(bytes) + 16, length: 8 });
});

test('bytes not covered by any tensor become gap segments', async () => {
  const bytes = build([
    { name: 'x', dtype: 'F32', shape: [1], begin: 4, end: 8 },
    { name: 'y', dtype: 'F32', shape: [1], begin: 16, end: 20 },
  ]);
  const layout = (await layoutOf(bytes));
  assertCovers(layout, bytes.length);
  assert.deepEqual(shapeOf(layout, headerEnd(bytes)), ['<gap>@0+4', 'x@4+4', '<gap>@8+8', 'y@16+4']);
});

test('bytes after the last tensor become a trailing segment', async () => {
  const bytes = build([{ name: 'x', dtype: 'I64', shape: [1], begin: 0, end: 8 }], undefined, new Uint8Array(13));
  const layout = (await layoutOf(bytes));
  assertCovers(layout, bytes.length);
  assert.deepEqual(shapeOf(layout, headerEnd(bytes)), ['x@0+8', '<trailing>@8+5']);
});

test('a header with no tensors leaves the rest of the file as trailing bytes', async () => {
  const empty = fromHeader('{}');
  assert.deepEqual((await layoutOf(empty)).segments, [{ kind: 'opaque', role: 'header', offset: 0, length: 10 }]);
  const withData = fromHeader({ __metadata__: { a: 'b' } }, new Uint8Array(3));
  assertCovers((await layoutOf(withData)), withData.length);
  assert.deepEqual(shapeOf((await layoutOf(withData)), headerEnd(withData)), ['<trailing>@0+3']);
});

test('__metadata__ is accepted and not treated as a tensor', async () => {
  const bytes = build([{ name: 'w', dtype: 'BF16', shape: [3], begin: 0, end: 6 }], { format: 'pt', note: '' });
  const layout = (await layoutOf(bytes));
  assertCovers(layout, bytes.length);
  assert.deepEqual(tensors(layout).map((t) => t.name), ['w']);
  // The reference implementation treats a null __metadata__ as absent.
  assert.deepEqual(tensors(await layoutOf(build([], null))), []);
});

test('whitespace padding after the JSON is part of the header segment', async () => {
  const json = '{"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}' + ' '.repeat(5);
  const bytes = fromHeader(json, new Uint8Array(2));
  const layout = (await layoutOf(bytes));
  assertCovers(layout, bytes.length);
  assert.equal(layout.segments[0].length, 8 + json.length);
});

test('unknown dtypes are accepted with any byte count and kept as spelled', async () => {
  const bytes = build([
    { name: 'odd', dtype: 'X9', shape: [2], begin: 0, end: 3 },
    { name: 'f4', dtype: 'F4', shape: [7], begin: 3, end: 7 },
  ]);
  const layout = (await layoutOf(bytes));
  assertCovers(layout, bytes.length);
  assert.deepEqual(
    tensors(layout).map((t) => [t.name, t.dtype, t.length]),
    [['odd', 'X9', 3], ['f4', 'F4', 4]],
  );
});

test('zero-size tensors are kept as empty tensor segments in a stable position', async () => {
  const bytes = build([
    { name: 'tail', dtype: 'F32', shape: [0], begin: 8, end: 8 },
    { name: 'w', dtype: 'F32', shape: [2], begin: 0, end: 8 },
    { name: 'z2', dtype: 'BF16', shape: [2, 0], begin: 0, end: 0 },
    { name: 'z1', dtype: 'F32', shape: [0], begin: 0, end: 0 },
    { name: 'scalar', dtype: 'F32', shape: [], begin: 8, end: 12 },
  ]);
  const layout = (await layoutOf(bytes));
  assertCovers(layout, bytes.length);
  assert.deepEqual(shapeOf(layout, headerEnd(bytes)), ['z1@0+0', 'z2@0+0', 'w@0+8', 'tail@8+0', 'scalar@8+4']);
  assert.deepEqual(tensors(layout).find((t) => t.name === 'z2')?.shape, [2, 0]);
});

test('only the prefix and the header are read, never the tensor data', async () => {
  const bytes = build([{ name: 'w', dtype: 'F32', shape: [4], begin: 0, end: 16 }]);
  const inner = new BufferSource(bytes, 'spy');
  const reads: [number, number][] = [];
  const spy: ByteSource = {
    name: inner.name,
    size: inner.size,
    checkUnchanged: async () => {},
    read: async (offset, length, into) => {
      reads.push([offset, length]);
      return inner.read(offset, length, into);
    },
    close: () => inner.close(),
  };
  (await readSafetensorsLayout(spy));
  for (const [offset, length] of reads) assert.ok(offset + length <= headerEnd(bytes), `read [${offset}, +${length})`);
});

test('looksLikeSafetensors sniffs the prefix cheaply', () => {
  const good = build([{ name: 'w', dtype: 'U8', shape: [1], begin: 0, end: 1 }]);
  assert.equal(looksLikeSafetensors(good.subarray(0, 16), good.length), true);
  assert.equal(looksLikeSafetensors(good.subarray(0, 16), headerEnd(good) - 1), false, 'header longer than file');
  assert.equal(looksLikeSafetensors(good.subarray(0, 4), good.length), false, 'too few bytes');
  assert.equal(looksLikeSafetensors(new Uint8Array(16), 16), false, 'zero header length');
  const notBrace = fromHeader(' {}');
  assert.equal(looksLikeSafetensors(notBrace.subarray(0, 16), notBrace.length), false);
  const huge = withPrefix(2n ** 60n, new TextEncoder().encode('{}'));
  assert.equal(looksLikeSafetensors(huge, Number.MAX_SAFE_INTEGER), false);
  const overCap = withPrefix(BigInt(SAFETENSORS_MAX_HEADER + 1), new TextEncoder().encode('{'));
  assert.equal(looksLikeSafetensors(overCap, SAFETENSORS_MAX_HEADER * 2), false);
});

test('hostile: file shorter than 8 bytes', async () => {
  await assertRejects(new Uint8Array(0), 'too short');
  await assertRejects(new Uint8Array(7), 'file is 7 bytes', 'too short');
});

test('hostile: absurd header lengths', async () => {
  await assertRejects(withPrefix(2n ** 60n, new TextEncoder().encode('{}')), `header length ${2n ** 60n} exceeds file size`);
  await assertRejects(withPrefix(2n ** 64n - 1n), 'exceeds file size');
  await assertRejects(withPrefix(100n, new TextEncoder().encode('{}')), 'header length 100 exceeds file size (10 bytes)');
});

test('hostile: header length over the cap, even when the file is big enough', async () => {
  const prefix = withPrefix(BigInt(SAFETENSORS_MAX_HEADER + 1));
  const big: ByteSource = {
    name: 'big.safetensors',
    size: SAFETENSORS_MAX_HEADER * 2,
    checkUnchanged: async () => {},
    read: async (offset, length) => {
      assert.ok(offset === 0 && length === 8, 'only the prefix should be read');
      return prefix;
    },
    close: () => {},
  };
  await assertRejects(big, `header length ${SAFETENSORS_MAX_HEADER + 1} exceeds the ${SAFETENSORS_MAX_HEADER}-byte limit`);
});

test('hostile: truncated header', async () => {
  const bytes = build([{ name: 'w', dtype: 'U8', shape: [4], begin: 0, end: 4 }]);
  await assertRejects(bytes.subarray(0, headerEnd(bytes) - 10), 'exceeds file size');
  // A self-consistent length over a JSON text that was cut short.
  const json = '{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,';
  await assertRejects(fromHeader(json), 'invalid JSON header');
});

test('hostile: invalid JSON, invalid UTF-8 and headers that are not objects', async () => {
  await assertRejects(fromHeader('{"a": nope}'), 'invalid JSON header');
  await assertRejects(fromHeader('{"a":\n\n{'), 'invalid JSON header');
  await assertRejects(withPrefix(4n, new Uint8Array([0x7b, 0x22, 0xff, 0x7d])), 'invalid JSON header');
  await assertRejects(withPrefix(5n, new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])), 'invalid JSON header');
  await assertRejects(fromHeader('[1, 2]'), 'invalid JSON header', "does not start with '{'");
  await assertRejects(fromHeader('"text"'), "does not start with '{'");
  await assertRejects(fromHeader(''), "does not start with '{'");
});

test('hostile: malformed tensor entries', async () => {
  await assertRejects(fromHeader({ w: 3 }), 'tensor "w" is not an object');
  await assertRejects(fromHeader({ w: null }), 'tensor "w" is not an object');
  await assertRejects(fromHeader({ w: { shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), 'tensor "w"', 'dtype');
  await assertRejects(fromHeader({ w: { dtype: 7, shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), 'dtype');
  await assertRejects(fromHeader({ w: { dtype: 'U8', data_offsets: [0, 1] } }, new Uint8Array(1)), 'non-array shape');
  await assertRejects(fromHeader({ w: { dtype: 'U8', shape: '1', data_offsets: [0, 1] } }, new Uint8Array(1)), 'non-array shape');
  await assertRejects(fromHeader({ w: { dtype: 'U8', shape: [1] } }, new Uint8Array(1)), 'data_offsets');
  await assertRejects(fromHeader({ w: { dtype: 'U8', shape: [1], data_offsets: [0, 1, 2] } }, new Uint8Array(2)), '[begin, end] pair');
  await assertRejects(fromHeader({ w: { dtype: 'U8', shape: [1], data_offsets: ['0', '1'] } }, new Uint8Array(1)), 'not non-negative integers');
  await assertRejects(build([{ name: 'w', dtype: 'U8', shape: [1], begin: -1, end: 0 }], undefined, new Uint8Array(1)), 'not non-negative integers');
  await assertRejects(build([{ name: 'w', dtype: 'U8', shape: [1], begin: 0.5, end: 1 }], undefined, new Uint8Array(1)), 'not non-negative integers');
  await assertRejects(fromHeader('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,9007199254740993]}}'), 'not non-negative integers');
});

test('hostile: negative, fractional and non-numeric shape entries', async () => {
  for (const dim of [-1, 1.5, '2', null]) {
    await assertRejects(build([{ name: 'w', dtype: 'X9', shape: [2, dim], begin: 0, end: 4 }]), 'tensor "w"', 'not a non-negative integer');
  }
});

test('hostile: data_offsets beyond the end of the file', async () => {
  const bytes = build([{ name: 'w', dtype: 'U8', shape: [16], begin: 0, end: 16 }], undefined, new Uint8Array(10));
  await assertRejects(bytes, 'tensor "w"', 'end 16 beyond the end of file', 'data buffer is 10 bytes');
  await assertRejects(build([{ name: 'z', dtype: 'U8', shape: [0], begin: 11, end: 11 }], undefined, new Uint8Array(10)), 'beyond the end of file');
});

test('hostile: begin > end', async () => {
  await assertRejects(build([{ name: 'w', dtype: 'X9', shape: [1], begin: 8, end: 4 }], undefined, new Uint8Array(8)), 'begin 8 > end 4');
});

test('hostile: overlapping tensors name both', async () => {
  await assertRejects(
    build([
      { name: 'first', dtype: 'F32', shape: [2], begin: 0, end: 8 },
      { name: 'second', dtype: 'F32', shape: [2], begin: 4, end: 12 },
    ]),
    '"first" [0, 8)', '"second" [4, 12)', 'overlap',
  );
  // A tensor nested inside another, with valid tensors after it.
  await assertRejects(
    build([
      { name: 'big', dtype: 'U8', shape: [16], begin: 0, end: 16 },
      { name: 'inner', dtype: 'U8', shape: [4], begin: 2, end: 6 },
      { name: 'later', dtype: 'U8', shape: [4], begin: 8, end: 12 },
    ]),
    '"big"', '"inner"', 'overlap',
  );
  // Identical ranges overlap too.
  await assertRejects(
    build([
      { name: 'a', dtype: 'U8', shape: [4], begin: 0, end: 4 },
      { name: 'b', dtype: 'U8', shape: [4], begin: 0, end: 4 },
    ]),
    '"a"', '"b"', 'overlap',
  );
  // An empty tensor strictly inside another has no place in a file-ordered layout.
  await assertRejects(
    build([
      { name: 'w', dtype: 'U8', shape: [8], begin: 0, end: 8 },
      { name: 'e', dtype: 'U8', shape: [0], begin: 4, end: 4 },
    ]),
    '"w"', '"e"', 'overlap',
  );
});

test('hostile: size mismatch for a known dtype', async () => {
  await assertRejects(build([{ name: 'w', dtype: 'BF16', shape: [3], begin: 0, end: 7 }]), 'tensor "w"', 'size mismatch', 'needs 6 bytes');
  await assertRejects(build([{ name: 'w', dtype: 'F32', shape: [0], begin: 0, end: 4 }]), 'size mismatch');
  // A product far beyond 2^53 must not wrap around or lose precision into a false match.
  await assertRejects(
    build([{ name: 'w', dtype: 'U8', shape: [2 ** 52, 2 ** 52, 0x10], begin: 0, end: 0 }]),
    'size mismatch',
  );
});

test('hostile: __metadata__ that is not an object of strings', async () => {
  await assertRejects(build([], { format: 1 }), '__metadata__ value for "format" is not a string');
  await assertRejects(build([], { nested: { a: 'b' } }), '__metadata__ value for "nested"');
  await assertRejects(build([], ['pt']), '__metadata__ is not an object');
  await assertRejects(build([], 'pt'), '__metadata__ is not an object');
});

test('hostile names are quoted on one line in messages', async () => {
  await assertRejects(fromHeader({ 'evil\nname': 1 }), 'tensor "evil\\nname" is not an object');
});
