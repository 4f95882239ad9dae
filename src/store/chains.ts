import { join } from 'node:path';
import { openBase, openOriginal, type GivenBase } from '../chunks/bases.js';
import { MithrilError } from '../errors.js';
import { FileSource, type ByteSource } from '../io/source.js';
import { REFERENCE, type Catalogue, type EntryRecord, type MemberRecord, type ReferenceRecord } from './catalogue.js';

/** Where a reference's file for member path `path` is (a file reference serves every path). */
export const referenceFile = (reference: ReferenceRecord, path: string): string => (reference.kind === 'file' ? reference.path : join(reference.path, path));

/**
 * Opens entries' files as bases, each through its own bases, sharing what two chains have in
 * common, and the reference's files checked against their recorded size and hash; `close` closes them all.
 */
export class Chains {
  /** Each file opened once, even when two chains ask for it at the same time. */
  private readonly opening = new Map<string, Promise<GivenBase>>();
  private readonly opened: GivenBase[] = [];
  constructor(
    private readonly store: Catalogue,
    private readonly entries: EntryRecord[],
    /** Read an entry's file from the local file it was added from when that still holds the same bytes (for adds: hashing it is far cheaper than decoding a chain). */
    private readonly fromSources: boolean,
  ) {}

  /** The file at member path `path` of entry `seq`, or of `reference` for REFERENCE. */
  open(seq: number, path: string, reference: ReferenceRecord | undefined): Promise<GivenBase> {
    const key = seq === REFERENCE ? `reference\0${reference?.path}\0${reference?.kind === 'file' ? '' : path}` : `${seq}\0${path}`;
    let given = this.opening.get(key);
    if (!given) this.opening.set(key, (given = seq === REFERENCE ? this.openReference(reference, path) : this.openMember(seq, path)));
    return given;
  }

  /** The bases `member` of `entry` is coded against, opened. */
  basesOf(entry: EntryRecord, member: MemberRecord): Promise<GivenBase[]> {
    return Promise.all(member.bases.map((seq) => this.open(seq, member.path, entry.reference)));
  }

  private async openMember(seq: number, path: string): Promise<GivenBase> {
    const entry = this.entries.find((e) => e.seq === seq);
    const member = entry?.members.find((m) => m.path === path && !m.raw);
    if (!entry || !member) throw new MithrilError(this.store.dir, `entry ${seq}${path ? ` (${path})` : ''} is missing: the store is damaged`, 'CORRUPT');
    const source = this.fromSources && member.source !== undefined ? await this.openSource(member.source, member) : undefined;
    if (source) return source;
    const bases = await this.basesOf(entry, member);
    return this.track(() => this.store.openData(member), `${entry.name}${path ? `/${path}` : ''} (${this.store.dataPath(member)})`, (source) => openBase(source, bases));
  }

  /** The original file at `path` as a base if it still holds `member`'s bytes (same size and xxh64), else undefined. */
  private async openSource(path: string, member: MemberRecord): Promise<GivenBase | undefined> {
    const sameBytes = async (source: ByteSource): Promise<GivenBase['base']> => {
      const base = source.size === member.original.size ? await openOriginal(source) : undefined;
      if (base?.identity.xxh64 !== member.original.xxh64) throw new Error('no longer the original');
      return base;
    };
    // Gone, changed or unreadable: the entry is read from the store instead.
    return this.track(async () => new FileSource(path), path, sameBytes).catch(() => undefined);
  }

  private async openReference(reference: ReferenceRecord | undefined, path: string): Promise<GivenBase> {
    const recorded = reference?.kind === 'file' ? reference.files[0] : reference?.files.find((f) => f.path === path);
    if (!reference || !recorded) throw new MithrilError(this.store.dir, `an entry names a reference file it does not record${path ? ` (${path})` : ''}: the store is damaged`, 'CORRUPT');
    const file = referenceFile(reference, path);
    const given = await this.track(async () => new FileSource(file), `reference ${file}`, (source) => openBase(source), () => {
      throw new MithrilError(file, 'the reference model is missing: the entries coded against it need it (mithril store ls shows which)', 'NEEDS_BASE');
    });
    if (given.base.identity.size !== recorded.size || given.base.identity.xxh64 !== recorded.xxh64) {
      throw new MithrilError(file, `the reference model was modified (recorded ${recorded.size} bytes, xxh64 ${recorded.xxh64}; now ${given.base.identity.size} bytes, ${given.base.identity.xxh64})`, 'WRONG_BASE');
    }
    return given;
  }

  /** Opens a file (`openSource`) as a base through `open`, remembered for `close`. */
  private async track(openSource: () => Promise<ByteSource>, shown: string, open: (source: ByteSource) => Promise<GivenBase['base']>, missing?: () => never): Promise<GivenBase> {
    let source: ByteSource;
    try {
      source = await openSource();
    } catch (error) {
      if (missing && (error as NodeJS.ErrnoException).code === 'ENOENT') missing();
      throw error;
    }
    try {
      const given = { path: shown, base: await open(source) };
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

/** Runs `use` with the entries' chains, closing every file opened; `fromSources` as for Chains. */
export async function withChains<T>(store: Catalogue, entries: EntryRecord[], use: (chains: Chains) => Promise<T>, fromSources = false): Promise<T> {
  const chains = new Chains(store, entries, fromSources);
  try {
    return await use(chains);
  } finally {
    await chains.close();
  }
}
