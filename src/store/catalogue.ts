import { closeSync, existsSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SourceRecord } from '../container/format.js';
import { MithrilError } from '../errors.js';
import { AtomicFile, keepAfterInterruption, removeIfInterrupted } from '../io/atomic-file.js';

/**
 * A store on disk (docs/FORMAT.md, "Stores"):
 *   STORE/mithril-store.json   what the folder is and its keyframe policy; written once
 *   STORE/data/<seq>[-<m>][.<n>].mth|raw  each entry's files: its container, or its folder's m-th
 *                              file's (.raw: kept as it is); .<n>: re-coded when an entry it used was removed
 *   STORE/entries/<seq>.json   each entry's record, written last, never edited: an entry exists
 *                              exactly when its record does, so a crash leaves it whole or absent
 */
export const STORE_FILE = 'mithril-store.json';
const FORMAT = 'mithril-store';
const VERSION = 1;
export const DEFAULT_MAX_DEPTH = 8;

/**
 * The store's own files are always synced before their rename: records name containers that must
 * be complete, and `rm` deletes the containers that re-coded ones replace.
 */
export const SYNCED = { sync: true } as const;

interface StoreHeader {
  format: typeof FORMAT;
  version: number;
  /** The most deltas a restore decodes in a row before reaching a keyframe. */
  maxDepth: number;
  /** The reference model given at the store's first add, used by every add that names none. */
  reference?: ReferenceRecord;
}

/** An entry's base that is not an entry: the store's reference model (see `EntryRecord.reference`). */
export const REFERENCE = 0;

/** A file of an entry: the whole entry, or one file of a folder entry. */
export interface MemberRecord {
  /** Its path in the folder, `/`-separated; '' for a file entry. */
  path: string;
  /** The original file's name, size and xxh64 (its identity as a base). */
  original: SourceRecord;
  /** Bytes of its file in data/. */
  stored: number;
  /** The entries (by seq; REFERENCE for the reference) whose file at the same path it is coded against, the base first. */
  bases: number[];
  /** Its file in data/: a container, or for a `raw` member the original bytes. */
  file: string;
  /** Not a checkpoint: kept as it is (a hard link to an earlier entry's identical file costs nothing). */
  raw?: true;
}

/** A read-only checkpoint outside the store that entries may be coded against, identified by its files' sizes and hashes. */
export interface ReferenceRecord {
  /** Absolute path of the file or folder. */
  path: string;
  kind: 'file' | 'folder';
  /** Its files ('' for a file), each with its size and xxh64. */
  files: { path: string; size: number; xxh64: string }[];
}

export interface EntryRecord {
  /** Order of addition, from 1; names the entry's files. */
  seq: number;
  name: string;
  kind: 'file' | 'folder';
  /** Bytes of the original file, or of all the folder's files. */
  size: number;
  /** Bytes of its files in data/. */
  stored: number;
  /** Every base of its members, the main base first; none for a keyframe. */
  bases: number[];
  /** The reference its members may be coded against (REFERENCE among `bases`). */
  reference?: ReferenceRecord;
  members: MemberRecord[];
  /** Deltas decoded in a row to restore it: 0 for a keyframe (computed from the members' bases when read). */
  depth: number;
  coding: 'strong' | 'fast';
  /** ISO time of the add. */
  added: string;
}

const pad = (seq: number): string => String(seq).padStart(8, '0');

export class Catalogue {
  private constructor(
    readonly dir: string,
    readonly maxDepth: number,
    readonly reference: ReferenceRecord | undefined,
  ) {}

  /** Opens the store at `dir`; with `create`, makes one there if the folder is missing or empty. */
  static open(dir: string, create: { maxDepth?: number; reference?: ReferenceRecord } | false): Catalogue {
    const headerPath = join(dir, STORE_FILE);
    if (!existsSync(headerPath)) {
      // Empty but for a header another add was writing when it died.
      const empty = !existsSync(dir) || (statSync(dir).isDirectory() && readdirSync(dir).every((name) => name.startsWith(HEADER_TEMP)));
      if (!create || !empty) throw new MithrilError(dir, existsSync(dir) ? `is not a mithril store (no ${STORE_FILE})` : 'no such store', existsSync(dir) ? 'NOT_CONTAINER' : 'NOT_FOUND');
      createHeader(dir, { format: FORMAT, version: VERSION, maxDepth: create.maxDepth ?? DEFAULT_MAX_DEPTH, ...(create.reference ? { reference: create.reference } : {}) });
    }
    let header: Partial<StoreHeader>;
    try {
      header = JSON.parse(readFileSync(headerPath, 'utf8')) as Partial<StoreHeader>;
    } catch {
      throw new MithrilError(headerPath, 'damaged store header (not JSON)', 'CORRUPT');
    }
    if (header.format !== FORMAT || header.version !== VERSION || !Number.isSafeInteger(header.maxDepth) || header.maxDepth! < 0) {
      throw new MithrilError(headerPath, `not a version-${VERSION} mithril store header`, 'UNSUPPORTED');
    }
    // The folders follow the header: made here, whoever made the header, so a crash in between heals.
    mkdirSync(join(dir, 'data'), { recursive: true });
    mkdirSync(join(dir, 'entries'), { recursive: true });
    return new Catalogue(dir, header.maxDepth!, header.reference);
  }

  /** The data file name of an entry's `member`th file (0 for a file entry), or of its `generation`th re-coding. */
  static fileName(seq: number, member: number, raw: boolean, generation = 0): string {
    return `${pad(seq)}${member ? `-${member}` : ''}${generation ? `.${generation}` : ''}.${raw ? 'raw' : 'mth'}`;
  }

  /** The generation a member's file is at (0 until it is re-coded). */
  static generationOf(member: MemberRecord): number {
    return Number(/^\d{8}(?:-\d+)?\.(\d+)\.(?:mth|raw)$/.exec(member.file)?.[1] ?? 0);
  }

  dataPath(member: Pick<MemberRecord, 'file'>): string {
    return join(this.dir, 'data', member.file);
  }

  private recordPath(seq: number): string {
    return join(this.dir, 'entries', `${pad(seq)}.json`);
  }

  /** Every entry, in order of addition, with its depth as its chain now has it. */
  entries(): EntryRecord[] {
    const names = readdirSync(join(this.dir, 'entries')).filter((name) => /^\d{8}\.json$/.test(name)).sort();
    const entries = names.map((name) => {
      const path = join(this.dir, 'entries', name);
      try {
        const record = JSON.parse(readFileSync(path, 'utf8')) as EntryRecord;
        if (record.seq !== Number(name.slice(0, 8)) || typeof record.name !== 'string' || !Array.isArray(record.bases) || !validMembers(record)) throw new Error('fields');
        return record;
      } catch {
        throw new MithrilError(path, 'damaged entry record', 'CORRUPT');
      }
    });
    const bySeq = new Map(entries.map((e) => [e.seq, e]));
    // The reference is read as it is: a delta against it is one step, like a keyframe's first delta.
    const depth = (e: EntryRecord, seen: number): number =>
      Math.max(0, ...e.members.filter((m) => m.bases.length).map((m) => {
        const base = bySeq.get(m.bases[0]!);
        return 1 + (base && seen < entries.length ? depth(base, seen + 1) : 0);
      }));
    for (const entry of entries) entry.depth = depth(entry, 0);
    return entries;
  }

  /** Makes an entry exist, or replaces its record (`replace`): its container must be complete already. */
  async writeRecord(record: EntryRecord, replace = false): Promise<void> {
    const file = new AtomicFile(this.recordPath(record.seq), replace, SYNCED.sync);
    try {
      await file.sink.write(new TextEncoder().encode(JSON.stringify(record, null, 2) + '\n'));
      await file.commit();
    } catch (error) {
      file.abort();
      throw error;
    }
  }

  /** Makes an entry not exist: its record goes first, then its files. */
  removeEntry(entry: EntryRecord): void {
    unlinkSync(this.recordPath(entry.seq));
    for (const member of entry.members) unlinkSync(this.dataPath(member));
  }

  /** Containers without a record (an add that never finished) and temporary files: a crash's leftovers. */
  removeLeftovers(): void {
    const recorded = new Set(this.entries().flatMap((e) => e.members.map((m) => m.file)));
    for (const name of readdirSync(join(this.dir, 'data'))) {
      if (!recorded.has(name)) unlinkSync(join(this.dir, 'data', name));
    }
    for (const name of readdirSync(join(this.dir, 'entries'))) {
      if (name.includes('.tmp-')) unlinkSync(join(this.dir, 'entries', name));
    }
  }

  /** Runs `work` holding the store's lock, so that two adds never interleave; a dead holder's lock is taken over. */
  async locked<T>(work: () => Promise<T>): Promise<T> {
    const path = join(this.dir, 'lock');
    for (;;) {
      try {
        const fd = openSync(path, 'wx');
        removeIfInterrupted(path);
        writeFileSync(fd, String(process.pid));
        closeSync(fd);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        if (!holderAlive(path)) unlinkSync(path);
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    try {
      return await work();
    } finally {
      unlinkSync(path);
      keepAfterInterruption(path);
    }
  }
}

/** A record's members are plausible: data files named as `fileName` makes them, paths inside the folder. */
function validMembers(record: EntryRecord): boolean {
  const plainPath = (path: unknown): boolean => typeof path === 'string' && path.split('/').every((part) => part !== '' && part !== '.' && part !== '..') && !path.includes('\0');
  return Array.isArray(record.members) && record.members.length > 0 && record.members.every((m) =>
    typeof m.file === 'string' && /^\d{8}(-\d+)?(\.\d+)?\.(mth|raw)$/.test(m.file) && Array.isArray(m.bases) &&
    (record.kind === 'file' ? m.path === '' : plainPath(m.path)));
}

const HEADER_TEMP = `.${STORE_FILE}.tmp-`;

/**
 * Writes a new store's header in one step (a temporary file, then a hard link that fails if a
 * header is there): a store is never half made, and of two adds creating it at once, one header wins.
 */
function createHeader(dir: string, header: StoreHeader): void {
  mkdirSync(dir, { recursive: true });
  const temp = join(dir, `${HEADER_TEMP}${process.pid}`);
  writeFileSync(temp, JSON.stringify(header, null, 2) + '\n');
  try {
    linkSync(temp, join(dir, STORE_FILE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temp);
  }
}

/** Whether the process named in a lock file still runs (a lock just created may not name it yet). */
function holderAlive(lock: string): boolean {
  let text: string;
  try {
    text = readFileSync(lock, 'utf8');
  } catch {
    return true; // gone meanwhile: the next attempt takes it
  }
  const pid = Number(text);
  if (text === '' || !Number.isSafeInteger(pid) || pid <= 0) return Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) < 5000;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
