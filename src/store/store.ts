import { existsSync, lstatSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checksumOfSource } from '../checksum.js';
import { MithrilError } from '../errors.js';
import { compressFile, decompressFile, STDOUT, verifyFile, writeOutput, type FileResult } from '../files.js';
import { keepAfterInterruption, removeIfInterrupted, temporaryBeside } from '../io/temporaries.js';
import { copySource } from '../io/sink.js';
import type { ByteSource } from '../io/source.js';
import { Catalogue, REFERENCE, SYNCED, type EntryRecord, type MemberRecord } from './catalogue.js';
import { withChains, type Chains } from './chains.js';

export { storeAdd, type AddOptions } from './add.js';
export { DEFAULT_MAX_DEPTH, REFERENCE, type EntryRecord, type MemberRecord } from './catalogue.js';

/** The store's entries, in order of addition. */
export async function storeList(dir: string): Promise<EntryRecord[]> {
  return (await Catalogue.open(dir, false)).entries();
}

/** Each reference model the entries need, with the entries that cannot be restored without it (directly or through their bases). */
export function referencesNeeded(entries: EntryRecord[]): Map<string, string[]> {
  const bySeq = new Map(entries.map((e) => [e.seq, e]));
  const referencesOf = (e: EntryRecord, seen: number): string[] => [
    ...(e.reference ? [e.reference.path] : []),
    ...e.bases.flatMap((seq) => (bySeq.has(seq) && seen < entries.length ? referencesOf(bySeq.get(seq)!, seen + 1) : [])),
  ];
  const needed = new Map<string, string[]>();
  for (const entry of entries) for (const path of new Set(referencesOf(entry, 0))) needed.set(path, [...(needed.get(path) ?? []), entry.name]);
  return needed;
}

function findEntry(dir: string, entries: EntryRecord[], name: string): EntryRecord {
  const entry = entries.find((e) => e.name === name);
  if (!entry) throw new MithrilError(dir, `has no entry named ${JSON.stringify(name)} (mithril store ls lists them)`, 'NO_ENTRY');
  return entry;
}

/** An entry's name as a file or folder name here, never a path elsewhere (records may come from anywhere). */
function plainName(name: string): string {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) throw new MithrilError(name, 'is not a plain file name: name the output with -o', 'USAGE');
  return name;
}

interface GetOptions {
  output?: string;
  force?: boolean;
  /** Sync every restored file before it is renamed into place (see OutputOptions). */
  sync?: boolean;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Restores an entry bit-exactly through its chains of bases: a file entry to `output` (`-` for
 * standard output; default its original name, here), a folder entry as a new folder (default its name).
 */
export async function storeGet(dir: string, name: string, options: GetOptions = {}): Promise<FileResult> {
  const store = await Catalogue.open(dir, false);
  const entries = await store.entries();
  const entry = findEntry(dir, entries, name);
  return withChains(store, entries, async (chains) => {
    if (entry.kind === 'file') {
      const output = options.output ?? plainName(basename(entry.members[0]!.original.name) || entry.name);
      const openedBases = await chains.basesOf(entry, entry.members[0]!);
      return decompressFile(store.dataPath(entry.members[0]!), { ...options, output, openedBases });
    }
    const output = options.output ?? plainName(entry.name);
    if (output === STDOUT) throw new MithrilError(entry.name, 'is a folder entry: restore it to a folder (-o DIR), not to standard output', 'USAGE');
    await restoreFolder(store, chains, entry, output, options);
    return { input: dir, output, originalSize: entry.size, compressedSize: entry.stored };
  });
}

/** Writes a folder entry into a temporary folder beside `output`, renamed into place only once every file is restored and checked. */
async function restoreFolder(store: Catalogue, chains: Chains, entry: EntryRecord, output: string, options: GetOptions): Promise<void> {
  if (lstatSync(output, { throwIfNoEntry: false })) throw new MithrilError(output, 'already exists (a folder entry is restored as a new folder)', 'EXISTS');
  const temp = temporaryBeside(output, false);
  mkdirSync(temp);
  removeIfInterrupted(temp);
  try {
    let done = 0;
    for (const member of entry.members) {
      const file = join(temp, member.path);
      mkdirSync(dirname(file), { recursive: true });
      const onProgress = options.onProgress && ((part: number) => options.onProgress!(done + part, entry.size));
      if (member.raw) await copyRaw(store, member, file, options.sync);
      else await decompressFile(store.dataPath(member), { output: file, sync: options.sync, threads: options.threads, onProgress, openedBases: await chains.basesOf(entry, member) });
      done += member.original.size;
    }
    if (existsSync(output)) throw new MithrilError(output, 'already exists (a folder entry is restored as a new folder)', 'EXISTS');
    renameSync(temp, output);
  } finally {
    rmSync(temp, { recursive: true, force: true });
    keepAfterInterruption(temp);
  }
}

/** Copies a raw member's file to `output`, checking its size and hash on the way. */
async function copyRaw(store: Catalogue, member: MemberRecord, output: string, sync = false): Promise<void> {
  const source = await store.openData(member);
  await writeOutput(source, output, { sync }, async (out) => {
    await copySource(source, out.sink);
    await checkRaw(source, member);
  });
}

/** Throws unless a raw member's file still has the original's size and hash. */
async function checkRaw(source: ByteSource, member: MemberRecord): Promise<void> {
  const { size, xxh64 } = await checksumOfSource(source);
  if (size !== member.original.size || xxh64 !== member.original.xxh64) throw new MithrilError(source.name, `checksum mismatch: not the ${member.path} that was added`, 'CHECKSUM');
}

export interface StoreProblem {
  name: string;
  problem: string;
  /** Entries that need this one to be restored. */
  dependents: string[];
}

/** Decodes every entry's files and checks every checksum (and the reference, for entries that need it); returns what is wrong, entry by entry. */
export async function storeVerify(dir: string, options: { threads?: number } = {}): Promise<{ entries: number; problems: StoreProblem[] }> {
  const store = await Catalogue.open(dir, false);
  const entries = await store.entries();
  const problems: StoreProblem[] = [];
  const dependents = (seq: number): string[] => entries.filter((e) => e.bases.includes(seq)).flatMap((e) => [e.name, ...dependents(e.seq)]);
  for (const entry of entries) {
    try {
      await withChains(store, entries, async (chains) => {
        for (const member of entry.members) await verifyMember(store, chains, entry, member, options);
      });
    } catch (error) {
      const problem = error instanceof MithrilError ? error.message : String((error as Error)?.message ?? error);
      problems.push({ name: entry.name, problem, dependents: [...new Set(dependents(entry.seq))] });
    }
  }
  return { entries: entries.length, problems };
}

async function verifyMember(store: Catalogue, chains: Chains, entry: EntryRecord, member: MemberRecord, options: { threads?: number }): Promise<void> {
  if (member.raw) {
    const source = await store.openData(member);
    try {
      return await checkRaw(source, member);
    } finally {
      source.close();
    }
  }
  const result = await verifyFile(store.dataPath(member), { openedBases: await chains.basesOf(entry, member), threads: options.threads });
  if (result.xxh64 !== member.original.xxh64 || result.originalSize !== member.original.size) {
    throw new MithrilError(store.dataPath(member), `is not the container its record names (${entry.name}${member.path ? `/${member.path}` : ''})`, 'CORRUPT');
  }
}

/**
 * The bases a member is re-coded against when entry `removed` goes: where it was the base, the
 * removed entry's file's own bases take its place (so no chain gets deeper); where it was only the
 * older one, it is dropped.
 */
function basesWithout(member: MemberRecord, removed: EntryRecord): number[] {
  const theirs = removed.members.find((m) => m.path === member.path);
  return member.bases[0] === removed.seq ? (theirs?.bases ?? []) : member.bases.filter((seq) => seq !== removed.seq);
}

/**
 * Removes an entry without losing any other: each entry coded against it is first restored and
 * re-coded against what it leaves (new containers, then its record replaced: a crash leaves the
 * old or the new one whole), and only then are its record and files removed.
 */
export async function storeRm(dir: string, name: string, options: { threads?: number } = {}): Promise<{ recoded: string[] }> {
  const store = await Catalogue.open(dir, false);
  return store.locked(async () => {
    await store.removeLeftovers();
    const target = findEntry(dir, await store.entries(), name);
    const recoded: string[] = [];
    for (const dependent of (await store.entries()).filter((e) => e.bases.includes(target.seq))) {
      await recode(store, dependent, target, options);
      recoded.push(dependent.name);
    }
    await store.removeEntry(target);
    return { recoded };
  });
}

/** Re-codes the files of `entry` that were coded against `removed`, then replaces its record. */
async function recode(store: Catalogue, entry: EntryRecord, removed: EntryRecord, options: { threads?: number }): Promise<void> {
  const entries = await store.entries();
  const replaced: MemberRecord[] = [];
  const members = await withChains(store, entries, async (chains) => {
    const next: MemberRecord[] = [];
    for (const [index, member] of entry.members.entries()) {
      if (!member.bases.includes(removed.seq)) next.push(member);
      else {
        next.push(await recodeMember(store, chains, entry, member, index, basesWithout(member, removed), options));
        replaced.push(member);
      }
    }
    return next;
  });
  const bases = [...new Set(members.flatMap((m) => m.bases))];
  const { reference, ...rest } = entry;
  const stored = members.reduce((sum, m) => sum + m.stored, 0);
  await store.writeRecord({ ...rest, ...(bases.includes(REFERENCE) ? { reference } : {}), members, bases, stored }, true);
  for (const member of replaced) await store.backend.remove(`data/${member.file}`);
}

async function recodeMember(store: Catalogue, chains: Chains, entry: EntryRecord, member: MemberRecord, index: number, bases: number[], options: { threads?: number }): Promise<MemberRecord> {
  const restored = store.backend.scratch(`.restore-${entry.seq}-${index}-${process.pid}`);
  const file = Catalogue.fileName(entry.seq, index, false, Catalogue.generationOf(member) + 1);
  try {
    await decompressFile(store.dataPath(member), { output: restored, openedBases: await chains.basesOf(entry, member), threads: options.threads });
    const given = await chains.basesOf(entry, { ...member, bases });
    const result = await compressFile(restored, { output: store.dataPath({ file }), ...SYNCED, bases: [], openedBases: given, fast: entry.coding === 'fast', originalName: member.original.name, threads: options.threads });
    const used = bases.filter((_, i) => !result.unusedBases.some((u) => u.path === given[i]!.path));
    return { ...member, bases: used, stored: result.compressedSize, file };
  } finally {
    rmSync(restored, { force: true });
  }
}
