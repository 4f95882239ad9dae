import type { SourceRecord } from '../container/format.js';
import { MithrilError } from '../errors.js';
import { openInput } from '../io/input.js';
import { isS3Url } from '../io/s3-url.js';
import type { ByteSource } from '../io/source.js';
import type { StoreBackend } from './backend.js';
import { LocalBackend } from './local-backend.js';

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
  /** The local file it was added from (absolute): a later add reads it as a base from there, not through its chain, while it holds the same bytes. */
  source?: string;
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
    readonly backend: StoreBackend,
    readonly maxDepth: number,
    readonly reference: ReferenceRecord | undefined,
  ) {}

  /** The store as given, for messages. */
  get dir(): string {
    return this.backend.root;
  }

  /** Opens the store at `location`; with `create`, makes one there if nothing is there yet. */
  static async open(location: string, create: { maxDepth?: number; reference?: ReferenceRecord } | false): Promise<Catalogue> {
    // The SDK is loaded only for a store in object storage.
    const backend = isS3Url(location) ? new (await import('./s3-backend.js')).S3Backend(location) : new LocalBackend(location);
    let text = await backend.read(STORE_FILE);
    if (text === undefined) {
      const state = await backend.state();
      // An add that made the store since the first read wrote its header before anything else.
      text = await backend.read(STORE_FILE);
      if (text === undefined) {
        if (!create || state === 'used') throw new MithrilError(location, state === 'missing' ? 'no such store' : `is not a mithril store (no ${STORE_FILE})`, state === 'missing' ? 'NOT_FOUND' : 'NOT_CONTAINER');
        // Of two adds creating the store at once, one header wins; both then read it.
        const header: StoreHeader = { format: FORMAT, version: VERSION, maxDepth: create.maxDepth ?? DEFAULT_MAX_DEPTH, ...(create.reference ? { reference: create.reference } : {}) };
        await backend.write(STORE_FILE, JSON.stringify(header, null, 2) + '\n', true);
        text = (await backend.read(STORE_FILE))!;
      }
    }
    let header: Partial<StoreHeader>;
    try {
      header = JSON.parse(text) as Partial<StoreHeader>;
    } catch {
      throw new MithrilError(backend.path(STORE_FILE), 'damaged store header (not JSON)', 'CORRUPT');
    }
    if (header.format !== FORMAT || header.version !== VERSION || !Number.isSafeInteger(header.maxDepth) || header.maxDepth! < 0) {
      throw new MithrilError(backend.path(STORE_FILE), `not a version-${VERSION} mithril store header`, 'UNSUPPORTED');
    }
    // The folders follow the header: made here, whoever made the header, so a crash in between heals.
    await backend.prepare();
    return new Catalogue(backend, header.maxDepth!, header.reference);
  }

  /** The data file name of an entry's `member`th file (0 for a file entry), or of its `generation`th re-coding. */
  static fileName(seq: number, member: number, raw: boolean, generation = 0): string {
    return `${pad(seq)}${member ? `-${member}` : ''}${generation ? `.${generation}` : ''}.${raw ? 'raw' : 'mth'}`;
  }

  /** The generation a member's file is at (0 until it is re-coded). */
  static generationOf(member: MemberRecord): number {
    return Number(/^\d{8}(?:-\d+)?\.(\d+)\.(?:mth|raw)$/.exec(member.file)?.[1] ?? 0);
  }

  /** A data file's path or URL, as the file functions take it. */
  dataPath(member: Pick<MemberRecord, 'file'>): string {
    return this.backend.path(`data/${member.file}`);
  }

  /** Opens a data file for reading. */
  openData(member: Pick<MemberRecord, 'file'>): Promise<ByteSource> {
    return openInput(this.dataPath(member));
  }

  /** Every entry, in order of addition, with its depth as its chain now has it. */
  async entries(): Promise<EntryRecord[]> {
    const names = (await this.backend.list('entries')).filter((name) => /^\d{8}\.json$/.test(name)).sort();
    const entries = await Promise.all(names.map(async (name) => {
      const path = this.backend.path(`entries/${name}`);
      try {
        const record = JSON.parse((await this.backend.read(`entries/${name}`)) ?? '') as EntryRecord;
        if (record.seq !== Number(name.slice(0, 8)) || typeof record.name !== 'string' || !Array.isArray(record.bases) || !validMembers(record)) throw new Error('fields');
        return record;
      } catch {
        throw new MithrilError(path, 'damaged entry record', 'CORRUPT');
      }
    }));
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

  /** Makes an entry exist, or replaces its record (`replace`): its data files must be complete already. */
  async writeRecord(record: EntryRecord, replace = false): Promise<void> {
    const name = `entries/${pad(record.seq)}.json`;
    if (!(await this.backend.write(name, JSON.stringify(record, null, 2) + '\n', !replace))) {
      throw new MithrilError(this.backend.path(name), 'another writer made this entry meanwhile', 'EXISTS');
    }
  }

  /** Makes an entry not exist: its record goes first, then its files. */
  async removeEntry(entry: EntryRecord): Promise<void> {
    await this.backend.remove(`entries/${pad(entry.seq)}.json`);
    for (const member of entry.members) await this.backend.remove(`data/${member.file}`);
  }

  /** Data files no record names (an add that never finished) and temporary files: a crash's leftovers. */
  async removeLeftovers(): Promise<void> {
    const recorded = new Set((await this.entries()).flatMap((e) => e.members.map((m) => m.file)));
    for (const name of await this.backend.list('data')) if (!recorded.has(name)) await this.backend.remove(`data/${name}`);
    for (const name of await this.backend.list('entries')) if (name.includes('.tmp-')) await this.backend.remove(`entries/${name}`);
  }

  /** Runs `work` holding the store's lock, so that two writers never interleave. */
  locked<T>(work: () => Promise<T>): Promise<T> {
    return this.backend.lock(work);
  }
}

/** A record's members are plausible: data files named as `fileName` makes them, paths inside the folder. */
function validMembers(record: EntryRecord): boolean {
  const plainPath = (path: unknown): boolean => typeof path === 'string' && path.split('/').every((part) => part !== '' && part !== '.' && part !== '..') && !path.includes('\0');
  return Array.isArray(record.members) && record.members.length > 0 && record.members.every((m) =>
    typeof m.file === 'string' && /^\d{8}(-\d+)?(\.\d+)?\.(mth|raw)$/.test(m.file) && Array.isArray(m.bases) &&
    (record.kind === 'file' ? m.path === '' : plainPath(m.path)));
}
