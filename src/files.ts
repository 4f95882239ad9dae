import { MithrilError } from './errors.js';
import { compressStream, type CompressOptions, type CompressResult } from './compress.js';
import { decompressStream, type DecompressOptions } from './decompress.js';
import { AtomicFile } from './io/atomic-file.js';
import { FileSource } from './io/source.js';
import { ContainerReader } from './container/reader.js';
import type { ContainerIndex } from './container/format.js';
import { resolve } from 'node:path';
import { openBase, type BaseCheckpoint } from './delta/base.js';
import { extractTensor } from './extract.js';
import { npyDtype, npyHeader } from './formats/npy.js';

export const SUFFIX = '.mth';

export interface OutputOptions {
  /** Output path; default: the input with `.mth` added (compress) or removed (decompress). */
  output?: string;
  /** Replace an existing output file. */
  force?: boolean;
}

/** Base checkpoints by path (original files or their .mth): the base first, then an older one. */
export interface BaseOptions {
  bases?: readonly string[];
}

export interface FileResult extends CompressResult {
  input: string;
  output: string;
}

function openInput(path: string): FileSource {
  try {
    return new FileSource(path);
  } catch (error) {
    throw asFileError(path, error);
  }
}

/** Turns a Node.js file-system error into a one-line MithrilError naming the file. */
export function asFileError(path: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const problems: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOSPC: 'no space left on device',
    EROFS: 'read-only file system',
    EDQUOT: 'disk quota exceeded',
  };
  return code && problems[code] ? new MithrilError(path, problems[code]) : error;
}

/** Opens the base checkpoints named by `paths`, runs `use`, and closes them whatever happens. */
async function withBases<T>(paths: readonly string[], use: (bases: { path: string; base: BaseCheckpoint }[]) => Promise<T>): Promise<T> {
  const opened: { path: string; base: BaseCheckpoint }[] = [];
  try {
    for (const path of paths) {
      const source = openInput(path);
      try {
        opened.push({ path, base: openBase(source) });
      } catch (error) {
        source.close();
        throw asFileError(path, error);
      }
    }
    return await use(opened);
  } finally {
    for (const { base } of opened) base.close();
  }
}

/** Runs `write` into an atomic output; on any failure the partial output is removed. */
async function writeAtomically<T>(
  input: FileSource,
  output: string,
  force: boolean,
  write: (file: AtomicFile) => Promise<T>,
  bases: readonly { base: BaseCheckpoint }[] = [],
): Promise<T> {
  if (resolve(output) === resolve(input.name)) throw new MithrilError(output, 'output would overwrite the input');
  let file: AtomicFile | undefined;
  try {
    file = new AtomicFile(output, force);
    const result = await write(file);
    input.checkUnchanged();
    for (const { base } of bases) base.checkUnchanged();
    file.commit();
    return result;
  } catch (error) {
    file?.abort();
    throw asFileError(output, error);
  } finally {
    input.close();
  }
}

export async function compressFile(input: string, options: OutputOptions & BaseOptions & Omit<CompressOptions, 'bases'> = {}): Promise<FileResult> {
  if (input.endsWith(SUFFIX) && !options.output) throw new MithrilError(input, `already has the ${SUFFIX} suffix`);
  const output = options.output ?? input + SUFFIX;
  const result = await withBases(options.bases ?? [], (bases) => {
    const source = openInput(input);
    return writeAtomically(source, output, options.force ?? false, (file) => compressStream(source, file.sink, { ...options, bases: bases.map((b) => b.base) }), bases);
  });
  return { ...result, input, output };
}

export async function decompressFile(input: string, options: OutputOptions & BaseOptions & Omit<DecompressOptions, 'bases'> = {}): Promise<FileResult> {
  if (!options.output && !input.endsWith(SUFFIX)) throw new MithrilError(input, `unknown suffix, expected ${SUFFIX} (use -o to name the output)`);
  const output = options.output ?? input.slice(0, -SUFFIX.length);
  return withBases(options.bases ?? [], async (bases) => {
    const source = openInput(input);
    const reader = await writeAtomically(source, output, options.force ?? false, (file) => decompressStream(source, file.sink, { ...options, bases }), bases);
    return { input, output, originalSize: reader.index.source.size, compressedSize: source.size };
  });
}

/** Decodes everything and checks every checksum, writing nothing. */
export async function verifyFile(input: string, options: BaseOptions & Omit<DecompressOptions, 'bases'> = {}): Promise<ContainerIndex> {
  const source = openInput(input);
  try {
    return await withBases(options.bases ?? [], async (bases) => (await decompressStream(source, null, { ...options, bases })).index);
  } catch (error) {
    throw asFileError(input, error);
  } finally {
    source.close();
  }
}

/** Reads a container's index without decoding any chunk. */
export function readIndex(input: string): { index: ContainerIndex; compressedSize: number } {
  const source = openInput(input);
  try {
    return { index: new ContainerReader(source).index, compressedSize: source.size };
  } catch (error) {
    throw asFileError(input, error);
  } finally {
    source.close();
  }
}

/** Writes one tensor's bytes (raw, or as .npy) from a container, decoding only its chunks. */
export async function extractTensorFile(
  input: string,
  name: string,
  options: OutputOptions & BaseOptions & { format?: 'raw' | 'npy' } = {},
): Promise<{ output: string; bytes: number }> {
  const npy = options.format === 'npy';
  const output = options.output ?? `${name.replace(/[^\w.-]/g, '_')}.${npy ? 'npy' : 'raw'}`;
  return withBases(options.bases ?? [], async (bases) => {
    const source = openInput(input);
    return writeAtomically(source, output, options.force ?? false, async (file) => {
      const reader = new ContainerReader(source);
      reader.useBases(bases);
      const { tensor, bytes } = extractTensor(reader, name);
      if (npy) {
        if (!npyDtype(tensor.dtype)) throw new MithrilError(input, `tensor ${JSON.stringify(name)} is ${tensor.dtype}, which .npy cannot represent (extract it raw)`);
        file.sink.write(npyHeader(tensor));
      }
      file.sink.write(bytes);
      return { output, bytes: bytes.length };
    });
  });
}
