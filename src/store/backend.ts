/**
 * Where a store's files live: a local folder, or (next) a prefix in object storage. The catalogue
 * needs no more than this: small files written whole (a record, the header), listing a folder,
 * removal, a cheap copy of an unchanged file, and a lock that serialises writers.
 */
export interface StoreBackend {
  /** The store as given (a folder, an `s3://` prefix), for messages. */
  readonly root: string;
  /** A file of the store as the file functions take it: a path, or an `s3://` URL. */
  path(name: string): string;
  /** Whether anything is there yet. */
  state(): Promise<'missing' | 'empty' | 'used'>;
  /** Makes what the store's files need (folders, for a local store). */
  prepare(): Promise<void>;
  /** A small file's text, or undefined if there is none. */
  read(name: string): Promise<string | undefined>;
  /** Writes a small file whole, at once; `exclusive`: only if there is none yet (false if there was). */
  write(name: string, text: string, exclusive: boolean): Promise<boolean>;
  /** The names in a folder of the store (`data`, `entries`). */
  list(folder: string): Promise<string[]>;
  /** Removes a file; one already gone is no error. */
  remove(name: string): Promise<void>;
  /** Makes `to` hold what `from` holds, without another copy where the storage allows. */
  link(from: string, to: string): Promise<void>;
  /** A local path for a temporary file while re-coding an entry. */
  scratch(name: string): string;
  /** Runs `work` while no other writer of the store runs. */
  lock<T>(work: () => Promise<T>): Promise<T>;
}
