import { statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { checksumOfSource } from '../checksum.js';
import { compressStream } from '../compress.js';
import { ContainerReader } from '../container/reader.js';
import { MithrilError } from '../errors.js';
import { writeOutput } from '../files.js';
import { detectLayout } from '../formats/detect.js';
import type { TensorSegment } from '../formats/layout.js';
import { openInput, STDIN } from '../io/input.js';
import { isS3Url } from '../io/s3-url.js';
import { copySource } from '../io/sink.js';
import { FileSource, type ByteSource } from '../io/source.js';
import { Catalogue, REFERENCE, SYNCED, type EntryRecord, type MemberRecord, type ReferenceRecord } from './catalogue.js';
import { referenceFile, withChains, type Chains } from './chains.js';
import { folderFiles, referenceRecord } from './folder.js';

/** An earlier entry sharing at least this share of the new entry's tensors is taken before older ones that share more. */
const MIN_SHARED = 0.5;

export interface AddOptions {
  /** The entry's name (default: the path's base name; required for standard input). */
  name?: string;
  /** The quick delta coder instead of the default context-modelled one. */
  fast?: boolean;
  /** For a new store: the most deltas a restore decodes in a row. */
  maxDepth?: number;
  /** A read-only checkpoint (file or folder) outside the store to code against; recorded for later adds if the store is new. */
  reference?: string;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

/** A tensor as pairing sees it: the file it is in (its path in the folder), its name, dtype and shape. */
const tensorKey = (path: string, t: TensorSegment): string => `${path}\0${t.name}\0${t.dtype}\0${t.shape.join()}`;

const tensorKeys = (path: string, segments: readonly { kind: string }[]): string[] =>
  segments.flatMap((s) => (s.kind === 'tensor' ? [tensorKey(path, s as TensorSegment)] : []));

/** A file of the checkpoint being added: its tensors, or none if it is kept raw. */
interface Input {
  path: string;
  open: () => Promise<ByteSource>;
  tensors: string[] | undefined;
  size: number;
  /** The local file's absolute path (not for standard input or an object). */
  local?: string;
}

/** The checkpoint at `path` as files: itself, or every file of a folder (those that are not checkpoints kept raw). */
async function readInputs(path: string): Promise<Input[]> {
  if (!isFolder(path)) {
    const source = await openInput(path);
    try {
      const local = path === STDIN || isS3Url(path) ? undefined : resolve(path);
      return [{ path: '', open: async () => source, tensors: tensorKeys('', (await detectLayout(source)).segments), size: source.size, local }];
    } catch (error) {
      source.close();
      throw error;
    }
  }
  const inputs: Input[] = [];
  for (const file of folderFiles(path)) {
    const open = async () => new FileSource(join(path, file));
    const source = await open();
    try {
      inputs.push({ path: file, open, tensors: await layoutOrRaw(source, file), size: source.size, local: resolve(path, file) });
    } finally {
      source.close();
    }
  }
  if (!inputs.length) throw new MithrilError(path, 'is an empty folder', 'EMPTY');
  return inputs;
}

/** A folder's file: its tensor keys if it is a checkpoint, undefined if it is to be kept as it is. */
async function layoutOrRaw(source: ByteSource, path: string): Promise<string[] | undefined> {
  try {
    return tensorKeys(path, (await detectLayout(source)).segments);
  } catch (error) {
    const code = error instanceof MithrilError ? error.code : undefined;
    if (code === 'NOT_CHECKPOINT' || code === 'EMPTY' || code === 'INVALID_CHECKPOINT' || code === 'NOT_CONTAINER') return undefined;
    throw error;
  }
}

/** The tensors of an entry's files, from their containers' indexes. */
async function entryTensors(store: Catalogue, entry: EntryRecord): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const member of entry.members.filter((m) => !m.raw)) {
    const source = await store.openData(member);
    try {
      for (const key of tensorKeys(member.path, (await ContainerReader.open(source)).index.segments)) keys.add(key);
    } finally {
      source.close();
    }
  }
  return keys;
}

/** The tensors of a reference model's files; a single file's as if at each of `paths` (it may serve any file of a folder). */
async function referenceTensors(reference: ReferenceRecord, paths: string[]): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const { path } of reference.files) {
    const source = new FileSource(referenceFile(reference, path));
    try {
      for (const at of reference.kind === 'file' ? paths : [path]) for (const key of (await layoutOrRaw(source, at)) ?? []) keys.add(key);
    } finally {
      source.close();
    }
  }
  return keys;
}

/** The share of `ours` that `theirs` holds. */
const shared = (theirs: Set<string>, ours: Set<string>): number => (ours.size ? [...ours].filter((key) => theirs.has(key)).length / ours.size : 0);

/** The most recent entry sharing most of `tensors`, else the one sharing the largest part of them, if any. */
async function closestEntry(store: Catalogue, entries: EntryRecord[], tensors: Set<string>): Promise<EntryRecord | undefined> {
  let best: { entry: EntryRecord; share: number } | undefined;
  for (const entry of [...entries].reverse()) {
    const share = shared(await entryTensors(store, entry), tensors);
    if (share >= MIN_SHARED) return entry;
    if (share > (best?.share ?? 0)) best = { entry, share };
  }
  return best?.entry;
}

/** The first entry of `entry`'s chain: a keyframe, or coded against the reference alone. */
function chainStart(entries: EntryRecord[], entry: EntryRecord): EntryRecord {
  const base = entries.find((e) => e.seq === entry.bases[0]);
  return base && base.depth < entry.depth ? chainStart(entries, base) : entry;
}

/** `entry` as the base, with its own base as the older one (the two-base predictor). */
const withOlder = (entry: EntryRecord): number[] => (entry.bases.length ? [entry.seq, entry.bases[0]!] : [entry.seq]);

/**
 * The bases for a new entry (seqs, REFERENCE for the reference): the closest earlier entry, if a
 * restore through it stays within the store's depth; past that depth, the start of its chain
 * (DESIGN.md, "Store policy": chunks where that no longer pays are coded alone, so it never costs
 * more than a keyframe); else the reference if it shares the tensors; else none, a keyframe.
 */
async function chooseBases(store: Catalogue, entries: EntryRecord[], inputs: Input[], reference: ReferenceRecord | undefined): Promise<number[]> {
  const tensors = new Set(inputs.flatMap((i) => i.tensors ?? []));
  const entry = await closestEntry(store, entries, tensors);
  if (entry && entry.depth + 1 <= store.maxDepth) return withOlder(entry);
  const start = entry && chainStart(entries, entry);
  if (start && start.depth + 1 <= store.maxDepth) return withOlder(start);
  return reference && store.maxDepth > 0 && shared(await referenceTensors(reference, inputs.filter((i) => i.tensors).map((i) => i.path)), tensors) > 0 ? [REFERENCE] : [];
}

/** Whether base `seq` has a checkpoint at member path `path` to code against. */
function hasCheckpoint(entries: EntryRecord[], reference: ReferenceRecord | undefined, seq: number, path: string): boolean {
  if (seq === REFERENCE) return reference?.kind === 'file' || (reference?.files.some((f) => f.path === path) ?? false);
  return entries.find((e) => e.seq === seq)?.members.some((m) => m.path === path && !m.raw) ?? false;
}

/** Whether the checkpoint at `path` is a folder (standard input and objects are files). */
const isFolder = (path: string): boolean => path !== STDIN && !isS3Url(path) && statSync(path).isDirectory();

/** Whether `path` is `folder` or inside it. */
const within = (path: string, folder: string): boolean => !relative(folder, path).startsWith('..');

/** Adds a checkpoint (a file, a folder, or `-` for standard input) to the store at `dir`, creating the store if needed. */
export async function storeAdd(dir: string, path: string, options: AddOptions = {}): Promise<EntryRecord> {
  const name = options.name ?? (path === STDIN ? undefined : basename(path));
  if (!name) throw new MithrilError('stdin', 'an entry read from standard input needs --name', 'USAGE');
  if (path !== STDIN && !isS3Url(dir) && within(resolve(dir), resolve(path))) throw new MithrilError(path, 'holds the store itself: add the checkpoint folder, not one around the store', 'USAGE');
  const given = options.reference === undefined ? undefined : await referenceRecord(options.reference);
  const inputs = await readInputs(path);
  try {
    // Made only now, so that an input refused above leaves no empty store behind.
    const store = await Catalogue.open(dir, { maxDepth: options.maxDepth, reference: given });
    const reference = given ?? store.reference;
    return await store.locked(async () => {
      await store.removeLeftovers();
      const entries = await store.entries();
      if (entries.some((e) => e.name === name)) throw new MithrilError(dir, `already has an entry named ${JSON.stringify(name)}`, 'EXISTS');
      const seq = (entries.at(-1)?.seq ?? 0) + 1;
      const chosen = await chooseBases(store, entries, inputs, reference);
      const total = inputs.reduce((sum, i) => sum + i.size, 0);
      let done = 0;
      const members: MemberRecord[] = [];
      await withChains(store, entries, async (chains) => {
        for (const [index, input] of inputs.entries()) {
          const onProgress = options.onProgress && ((part: number) => options.onProgress!(done + part, total));
          const add = { store, entries, seq, index, reference, chains };
          members.push(input.tensors ? await addCheckpoint(add, input, chosen, { fast: options.fast, threads: options.threads, onProgress, originalName: path === STDIN ? name : undefined }) : await addRaw(add, input));
          done += input.size;
        }
      }, true);
      const bases = [...new Set(members.flatMap((m) => m.bases))];
      await store.writeRecord({
        seq, name, kind: isFolder(path) ? 'folder' : 'file', size: total, stored: members.reduce((sum, m) => sum + m.stored, 0),
        bases, ...(bases.includes(REFERENCE) ? { reference } : {}), members, depth: 0, coding: options.fast ? 'fast' : 'strong', added: new Date().toISOString(),
      });
      return (await store.entries()).find((e) => e.seq === seq)!;
    });
  } finally {
    for (const input of inputs) if (!input.path) (await input.open()).close();
  }
}

interface Adding {
  store: Catalogue;
  entries: EntryRecord[];
  seq: number;
  /** The file's place among the entry's files. */
  index: number;
  reference: ReferenceRecord | undefined;
  chains: Chains;
}

/** Codes a checkpoint file against those of the chosen bases that have one at its path; records only the bases a chunk used. */
async function addCheckpoint(add: Adding, input: Input, chosen: number[], coding: { fast?: boolean; threads?: number; onProgress?: (done: number) => void; originalName?: string }): Promise<MemberRecord> {
  const candidates = chosen.filter((seq) => hasCheckpoint(add.entries, add.reference, seq, input.path));
  const bases = await Promise.all(candidates.map((seq) => add.chains.open(seq, input.path, add.reference)));
  const file = Catalogue.fileName(add.seq, add.index, false);
  const source = await input.open();
  const onProgress = coding.onProgress && ((done: number) => coding.onProgress!(done));
  const originalName = coding.originalName ?? basename(input.path || source.name);
  const result = await writeOutput(source, add.store.dataPath({ file }), SYNCED, (out) => compressStream(source, out.sink, { ...coding, onProgress, originalName, bases: bases.map((b) => b.base) }), bases);
  // Only the bases a chunk was coded against are recorded (always a leading run of those given).
  const used = candidates.filter((_, i) => !result.unusedBases.some((u) => u.base === i));
  return { path: input.path, original: result.source, stored: result.compressedSize, bases: used, file, ...(input.local ? { source: input.local } : {}) };
}

/**
 * Keeps a file that is not a checkpoint as it is: a hard link to the same file of the most recent
 * entry that has it unchanged (a config or tokenizer saved with every step costs nothing), else a copy.
 */
async function addRaw(add: Adding, input: Input): Promise<MemberRecord> {
  const source = await input.open();
  const file = Catalogue.fileName(add.seq, add.index, true);
  const target = add.store.dataPath({ file });
  const original = { name: basename(input.path), ...(await checksumOfSource(source)) };
  const same = [...add.entries].reverse().flatMap((e) => e.members).find((m) => m.raw && m.path === input.path && m.original.size === original.size && m.original.xxh64 === original.xxh64);
  if (same) {
    source.close();
    await add.store.backend.link(`data/${same.file}`, `data/${file}`);
  } else {
    await writeOutput(source, target, SYNCED, (out) => copySource(source, out.sink));
  }
  return { path: input.path, original, stored: same ? 0 : original.size, bases: [], file, raw: true };
}
