import { rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { openBase, type GivenBase } from '../chunks/bases.js';
import { compressStream } from '../compress.js';
import { ContainerReader } from '../container/reader.js';
import { MithrilError } from '../errors.js';
import { compressFile, decompressFile, verifyFile, writeOutput, type FileResult } from '../files.js';
import { detectLayout } from '../formats/detect.js';
import type { TensorSegment } from '../formats/layout.js';
import { openInput, STDIN } from '../io/input.js';
import { FileSource } from '../io/source.js';
import { Catalogue, type EntryRecord } from './catalogue.js';

export { DEFAULT_MAX_DEPTH, type EntryRecord } from './catalogue.js';

/** An earlier entry is a base only if at least this share of the new entry's tensors match it. */
const MIN_SHARED = 0.5;

export interface AddOptions {
  /** The entry's name (default: the path's base name; required for standard input). */
  name?: string;
  /** The quick coder instead of `--strong`. */
  fast?: boolean;
  /** For a new store: the most deltas a restore decodes in a row. */
  maxDepth?: number;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

const tensorKey = (t: TensorSegment): string => `${t.name}\0${t.dtype}\0${t.shape.join()}`;

/** The tensors (name, dtype, shape) an entry holds, from its container's index. */
async function entryTensors(store: Catalogue, entry: EntryRecord): Promise<Set<string>> {
  const source = new FileSource(store.containerPath(entry));
  try {
    const { index } = await ContainerReader.open(source);
    return new Set(index.segments.flatMap((s) => (s.kind === 'tensor' ? [tensorKey(s)] : [])));
  } finally {
    source.close();
  }
}

/**
 * The bases for a new entry: the most recent entry sharing most of its tensors, if a restore
 * through it stays within the store's depth, and that entry's own base as the older one (the
 * two-base predictor); none, a keyframe, otherwise.
 */
async function chooseBases(store: Catalogue, entries: EntryRecord[], tensors: Set<string>): Promise<EntryRecord[]> {
  for (const entry of [...entries].reverse()) {
    const theirs = await entryTensors(store, entry);
    const shared = [...tensors].filter((key) => theirs.has(key)).length;
    if (tensors.size === 0 || shared < MIN_SHARED * tensors.size) continue;
    if (entry.depth + 1 > store.maxDepth) return [];
    const older = entries.find((e) => e.seq === entry.bases[0]);
    return older ? [entry, older] : [entry];
  }
  return [];
}

/** Opens entries as bases, each through its own bases, sharing what two chains have in common; `close` closes them all. */
class Chains {
  /** Each entry opened once, even when two chains ask for it at the same time. */
  private readonly opening = new Map<number, Promise<GivenBase>>();
  private readonly opened: GivenBase[] = [];
  constructor(
    private readonly store: Catalogue,
    private readonly entries: EntryRecord[],
  ) {}

  open(seq: number): Promise<GivenBase> {
    let given = this.opening.get(seq);
    if (!given) this.opening.set(seq, (given = this.openEntry(seq)));
    return given;
  }

  private async openEntry(seq: number): Promise<GivenBase> {
    const entry = this.entries.find((e) => e.seq === seq);
    if (!entry) throw new MithrilError(this.store.dir, `entry ${seq} is missing: the store is damaged`, 'CORRUPT');
    const bases = await Promise.all(entry.bases.map((base) => this.open(base)));
    const path = this.store.containerPath(entry);
    const source = new FileSource(path);
    try {
      const given = { path: `${entry.name} (${path})`, base: await openBase(source, bases) };
      this.opened.push(given);
      return given;
    } catch (error) {
      source.close();
      throw error;
    }
  }

  /** Closes what was opened; an open still under way is awaited first. */
  async close(): Promise<void> {
    await Promise.allSettled(this.opening.values());
    for (const { base } of this.opened) base.close();
  }
}

async function withChains<T>(store: Catalogue, entries: EntryRecord[], use: (chains: Chains) => Promise<T>): Promise<T> {
  const chains = new Chains(store, entries);
  try {
    return await use(chains);
  } finally {
    await chains.close();
  }
}

/** Adds a checkpoint (a file, or `-` for standard input) to the store at `dir`, creating the store if needed. */
export async function storeAdd(dir: string, path: string, options: AddOptions = {}): Promise<EntryRecord> {
  const name = options.name ?? (path === STDIN ? undefined : basename(path));
  if (!name) throw new MithrilError('stdin', 'an entry read from standard input needs --name', 'USAGE');
  const store = Catalogue.open(dir, { maxDepth: options.maxDepth });
  const source = await openInput(path);
  try {
    return await store.locked(async () => {
      store.removeLeftovers();
      const entries = store.entries();
      if (entries.some((e) => e.name === name)) throw new MithrilError(dir, `already has an entry named ${JSON.stringify(name)}`, 'EXISTS');
      const seq = (entries.at(-1)?.seq ?? 0) + 1;
      const tensors = new Set((await detectLayout(source)).segments.flatMap((s) => (s.kind === 'tensor' ? [tensorKey(s)] : [])));
      const chosen = await chooseBases(store, entries, tensors);
      return withChains(store, entries, async (chains) => {
        const bases = await Promise.all(chosen.map((entry) => chains.open(entry.seq)));
        const coding = { strong: !options.fast, threads: options.threads, onProgress: options.onProgress, ...(path === STDIN ? { originalName: name } : {}) };
        const container = store.containerPath({ file: Catalogue.fileName(seq) });
        const result = await writeOutput(source, container, false, (file) => compressStream(source, file.sink, { ...coding, bases: bases.map((b) => b.base) }), bases);
        // Only the bases a chunk was coded against are recorded (always a leading run of those given).
        const used = chosen.filter((_, i) => !result.unusedBases.some((u) => u.base === i));
        const record: EntryRecord = {
          seq, name, original: result.source, stored: result.compressedSize, bases: used.map((e) => e.seq),
          depth: used.length ? used[0]!.depth + 1 : 0, file: Catalogue.fileName(seq), coding: options.fast ? 'fast' : 'strong', added: new Date().toISOString(),
        };
        await store.writeRecord(record);
        return record;
      });
    });
  } finally {
    source.close();
  }
}

/** The store's entries, in order of addition. */
export function storeList(dir: string): EntryRecord[] {
  return Catalogue.open(dir, false).entries();
}

function findEntry(dir: string, entries: EntryRecord[], name: string): EntryRecord {
  const entry = entries.find((e) => e.name === name);
  if (!entry) throw new MithrilError(dir, `has no entry named ${JSON.stringify(name)} (mithril store ls lists them)`, 'NO_ENTRY');
  return entry;
}

/** Restores an entry bit-exactly (to `output`, `-` for standard output; default: its original name here), through its chain of bases. */
export async function storeGet(dir: string, name: string, options: { output?: string; force?: boolean; threads?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<FileResult> {
  const store = Catalogue.open(dir, false);
  const entries = store.entries();
  const entry = findEntry(dir, entries, name);
  const output = options.output ?? (basename(entry.original.name) || entry.name);
  return withChains(store, entries, async (chains) => {
    const openedBases = await Promise.all(entry.bases.map((seq) => chains.open(seq)));
    return decompressFile(store.containerPath(entry), { ...options, output, openedBases });
  });
}

export interface StoreProblem {
  name: string;
  problem: string;
  /** Entries that need this one to be restored. */
  dependents: string[];
}

/** Decodes every entry and checks every checksum; returns what is wrong, entry by entry. */
export async function storeVerify(dir: string, options: { threads?: number } = {}): Promise<{ entries: number; problems: StoreProblem[] }> {
  const store = Catalogue.open(dir, false);
  const entries = store.entries();
  const problems: StoreProblem[] = [];
  const dependents = (seq: number): string[] => {
    const found = entries.filter((e) => e.bases.includes(seq));
    return found.flatMap((e) => [e.name, ...dependents(e.seq)]);
  };
  for (const entry of entries) {
    try {
      await withChains(store, entries, async (chains) => {
        const openedBases = await Promise.all(entry.bases.map((seq) => chains.open(seq)));
        const result = await verifyFile(store.containerPath(entry), { openedBases, threads: options.threads });
        if (result.xxh64 !== entry.original.xxh64 || result.originalSize !== entry.original.size) throw new Error('the container is not the one the record names');
      });
    } catch (error) {
      const problem = error instanceof MithrilError ? error.message : String((error as Error)?.message ?? error);
      problems.push({ name: entry.name, problem, dependents: [...new Set(dependents(entry.seq))] });
    }
  }
  return { entries: entries.length, problems };
}

/**
 * The bases an entry is re-coded against when `removed` goes: where it was the base, the removed
 * entry's own bases take its place (so no chain gets deeper); where it was only the older one, it
 * is dropped.
 */
function basesWithout(entry: EntryRecord, removed: EntryRecord): number[] {
  return entry.bases[0] === removed.seq ? removed.bases : entry.bases.filter((seq) => seq !== removed.seq);
}

/**
 * Removes an entry without losing any other: each entry coded against it is first restored and
 * re-coded against what it leaves (a new container, then its record replaced: a crash leaves the
 * old or the new one whole), and only then are its record and container removed.
 */
export async function storeRm(dir: string, name: string, options: { threads?: number } = {}): Promise<{ recoded: string[] }> {
  const store = Catalogue.open(dir, false);
  return store.locked(async () => {
    store.removeLeftovers();
    const target = findEntry(dir, store.entries(), name);
    const recoded: string[] = [];
    for (const dependent of store.entries().filter((e) => e.bases.includes(target.seq))) {
      await recode(store, dependent, basesWithout(dependent, target), options);
      recoded.push(dependent.name);
    }
    store.removeEntry(target);
    return { recoded };
  });
}

async function recode(store: Catalogue, entry: EntryRecord, bases: number[], options: { threads?: number }): Promise<void> {
  const entries = store.entries();
  const restored = join(store.dir, 'data', `.restore-${entry.seq}-${process.pid}`);
  const generation = Number(/^\d{8}\.(\d+)\.mth$/.exec(entry.file)?.[1] ?? 0) + 1;
  const file = Catalogue.fileName(entry.seq, generation);
  try {
    await withChains(store, entries, async (chains) => {
      const own = await Promise.all(entry.bases.map((seq) => chains.open(seq)));
      await decompressFile(store.containerPath(entry), { output: restored, openedBases: own, threads: options.threads });
      const given = await Promise.all(bases.map((seq) => chains.open(seq)));
      const result = await compressFile(restored, { output: store.containerPath({ file }), bases: [], openedBases: given, strong: entry.coding === 'strong', originalName: entry.original.name, threads: options.threads });
      const used = bases.filter((_, i) => !result.unusedBases.some((u) => u.path === given[i]!.path));
      await store.writeRecord({ ...entry, bases: used, stored: result.compressedSize, file }, true);
    });
  } finally {
    rmSync(restored, { force: true });
  }
  rmSync(store.containerPath(entry), { force: true });
}
