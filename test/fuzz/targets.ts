/**
 * The four fuzz targets: how a case's input is made (seed input + mutations, all drawn from the
 * case's own generator) and what is run on it, with the property every case must have.
 *
 * - mth: a mutated container → decompressBuffer: the exact original, or a clean error.
 * - safetensors, torch: a mutated checkpoint → compressBuffer: a clean error, or a container that
 *   decompressBuffer restores to the mutated input byte for byte (and the input left untouched).
 * - pickle: a mutated pickle → readTorchPickle: a result or a one-line PickleError; then the same
 *   pickle as the data.pkl of a torch archive → compressBuffer → decompressBuffer round trip.
 */
import { xxh64 } from '@node-rs/xxhash';
import { PickleError } from '../../src/formats/pickle/values.js';
import { readTorchPickle } from '../../src/formats/torch-pickle.js';
import { compressBuffer, decompressBuffer, MithrilError } from '../../src/index.js';
import { torchZip } from './builders.js';
import { corpus, fixtureBase, type Corpus, type FileSeed, type MthSeed, type PickleSeed } from './corpus.js';
import { indexEdit } from './index-edit.js';
import { BYTE_MUTATORS, fieldEdit, mutationCount, type ByteMutator } from './mutate.js';
import { pickleEdit } from './pickle-edit.js';
import { caseSeed, Rng } from './prng.js';
import { headerEdit } from './st-edit.js';

export const TARGETS = ['mth', 'safetensors', 'torch', 'pickle'] as const;
export type Target = (typeof TARGETS)[number];

export function isTarget(value: string): value is Target {
  return (TARGETS as readonly string[]).includes(value);
}

export interface FuzzCase {
  target: Target;
  seed: number;
  caseNo: number;
  /** The name of the seed input it was made from (see corpus.ts). */
  corpus: string;
  mutations: string[];
  input: Uint8Array;
}

/** What running a case gave, before time and memory are judged. */
export type Outcome =
  | { status: 'ok'; detail: string }
  | { status: 'clean-error'; detail: string }
  | { status: 'failure'; kind: FailureKind; detail: string };

export type FailureKind =
  | 'wrong-output'
  | 'error-type'
  | 'multi-line-error'
  | 'own-output-unreadable'
  | 'input-modified'
  | 'slow'
  | 'memory'
  | 'hang'
  | 'crash'
  /** The fuzzer's own fault (e.g. a mutator that threw): not a finding about mithril, but must be fixed. */
  | 'harness';

function pickSeed<T extends { weight: number }>(rng: Rng, seeds: readonly T[]): T {
  return rng.weighted(seeds.map((s) => [s.weight, s] as const));
}

function stack(rng: Rng, bytes: Uint8Array, mutations: string[], pick: () => ByteMutator, shape: FileSeed['shape'], count = mutationCount(rng)): Uint8Array {
  for (let i = 0; i < count; i++) {
    const m = pick()(rng, bytes, shape);
    bytes = m.bytes;
    mutations.push(m.desc);
  }
  return bytes;
}

const byteMutator = (rng: Rng) => (): ByteMutator => rng.weighted(BYTE_MUTATORS);

/** Case `caseNo` of `seed` for `target`: always the same input. */
export async function generate(target: Target, seed: number, caseNo: number): Promise<FuzzCase> {
  const c = await corpus();
  const rng = new Rng(caseSeed(seed, target, caseNo));
  const mutations: string[] = [];
  let name: string;
  let input: Uint8Array;
  switch (target) {
    case 'mth': {
      const s = pickSeed(rng, c.mth);
      name = s.name;
      input = s.container;
      let count = mutationCount(rng);
      if (rng.chance(0.25)) {
        const m = indexEdit(rng, s);
        input = m.bytes;
        mutations.push(m.desc);
        count = rng.chance(0.7) ? 0 : count;
      }
      input = stack(rng, input, mutations, byteMutator(rng), s.shape, count);
      break;
    }
    case 'safetensors': {
      const s = pickSeed(rng, c.safetensors);
      name = s.name;
      input = stack(rng, s.bytes, mutations, () => (rng.chance(0.4) ? (r, b, shape) => headerEdit(r, b, shape) : rng.weighted(BYTE_MUTATORS)), s.shape);
      break;
    }
    case 'torch': {
      const s = pickSeed(rng, c.torch);
      name = s.name;
      input = stack(rng, s.bytes, mutations, () => (rng.chance(0.2) ? fieldEdit : rng.weighted(BYTE_MUTATORS)), s.shape);
      break;
    }
    case 'pickle': {
      const s = pickSeed(rng, c.pickle);
      name = s.name;
      input = stack(rng, s.bytes, mutations, () => (rng.chance(0.5) ? (r, b) => pickleEdit(r, b) : rng.weighted(BYTE_MUTATORS)), s.shape);
      break;
    }
  }
  return { target, seed, caseNo, corpus: name, mutations, input };
}

// ---------------------------------------------------------------------------------------------

const oneLine = (message: string): boolean => !/[\n\r]/.test(message);

/** Where an unexpected error was thrown: its first stack frame, for the failure's description. */
function origin(e: unknown): string {
  const frames = e instanceof Error && e.stack ? e.stack.split('\n').slice(1) : [];
  const frame = frames.find((f) => f.includes('/src/')) ?? frames[0] ?? '';
  const m = /\(?((?:file:\/\/)?[^()]*?(?:dist\/)?((?:src|test)\/[^():]+):(\d+):\d+)\)?\s*$/.exec(frame.trim());
  return m ? ` at ${m[2]}:${m[3]}` : '';
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message.replace(/\s+/g, ' ').slice(0, 300)}${origin(e)}`;
  return `non-Error thrown: ${String(e).slice(0, 200)}`;
}

/** A thrown error, judged: a one-line MithrilError (or PickleError where allowed) is clean. */
function judgeError(e: unknown, allowPickleError = false): Outcome {
  if (e instanceof MithrilError || (allowPickleError && e instanceof PickleError)) {
    if (!oneLine(e.message)) return { status: 'failure', kind: 'multi-line-error', detail: `${e.name} with a line break: ${JSON.stringify(e.message.slice(0, 300))}` };
    if (e instanceof MithrilError && (typeof e.file !== 'string' || e.file === '')) return { status: 'failure', kind: 'error-type', detail: `MithrilError naming no file: ${e.message}` };
    return { status: 'clean-error', detail: e.message.slice(0, 300) };
  }
  return { status: 'failure', kind: 'error-type', detail: describeError(e) };
}

function firstDifference(a: Uint8Array, b: Uint8Array): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `first difference at byte ${i}`;
  return a.length === b.length ? 'identical' : `lengths ${a.length} and ${b.length}`;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

/** compressBuffer, then decompressBuffer of its output, which must give the input back exactly. */
async function roundTrip(input: Uint8Array, name: string): Promise<Outcome> {
  const before = xxh64(input);
  let packed: Uint8Array;
  try {
    packed = await compressBuffer(input, { name });
  } catch (e) {
    if (xxh64(input) !== before) return { status: 'failure', kind: 'input-modified', detail: `the input changed while being compressed (then ${describeError(e)})` };
    return judgeError(e);
  }
  if (xxh64(input) !== before) return { status: 'failure', kind: 'input-modified', detail: 'the input changed while being compressed' };
  let restored: Uint8Array;
  try {
    restored = await decompressBuffer(packed, { name: `${name}.mth` });
  } catch (e) {
    return { status: 'failure', kind: 'own-output-unreadable', detail: `compressed, but its own container fails to decompress: ${describeError(e)}` };
  }
  if (!equal(restored, input)) return { status: 'failure', kind: 'wrong-output', detail: `round trip differs from the input: ${firstDifference(restored, input)}` };
  return { status: 'ok', detail: `round trip of ${input.length} bytes (${packed.length} packed)` };
}

function mthSeed(c: Corpus, name: string): MthSeed {
  const s = c.mth.find((x) => x.name === name);
  if (!s) throw new Error(`no mth seed named ${JSON.stringify(name)} in the fuzz corpus`);
  return s;
}

function pickleSeed(c: Corpus, name: string): PickleSeed {
  const s = c.pickle.find((x) => x.name === name);
  if (!s) throw new Error(`no pickle seed named ${JSON.stringify(name)} in the fuzz corpus`);
  return s;
}

/** Runs a case's input through its target and judges what came back (time and memory are judged by the harness). */
export async function execute(target: Target, corpusName: string, input: Uint8Array): Promise<Outcome> {
  const c = await corpus();
  switch (target) {
    case 'mth': {
      const s = mthSeed(c, corpusName);
      const bases = await Promise.all(s.baseNames.map(fixtureBase));
      let out: Uint8Array;
      try {
        out = await decompressBuffer(input, { name: 'fuzz.mth', ...(bases.length ? { bases } : {}) });
      } catch (e) {
        return judgeError(e);
      }
      if (!equal(out, s.original)) return { status: 'failure', kind: 'wrong-output', detail: `decompressed to different bytes: ${firstDifference(out, s.original)}` };
      return { status: 'ok', detail: `restored ${out.length} bytes` };
    }
    case 'safetensors':
      return roundTrip(input, 'fuzz.safetensors');
    case 'torch':
      return roundTrip(input, 'fuzz.pt');
    case 'pickle': {
      const s = pickleSeed(c, corpusName);
      let parsed: Outcome;
      try {
        const info = readTorchPickle(input);
        parsed = { status: 'ok', detail: `${info.storages.size} storages, ${info.tensors.length} tensors` };
      } catch (e) {
        parsed = judgeError(e, true);
        if (parsed.status === 'failure' && e instanceof RangeError) {
          parsed.detail += ' (torch.ts catches RangeError from the pickle reader: the checkpoint would still compress, its storages opaque)';
        }
      }
      if (parsed.status === 'failure') return parsed;
      const wrapped = await roundTrip(torchZip(input, s.storages, { torchStyle: s.torchStyle }), 'fuzz.pt');
      if (wrapped.status === 'failure') return { ...wrapped, detail: `as data.pkl of a torch archive: ${wrapped.detail}` };
      return parsed;
    }
  }
}
