import { MithrilError } from './errors.js';
import { compressStream, type CompressOptions, type CompressResult } from './compress.js';
import { decompressStream, type DecompressOptions } from './decompress.js';
import { AtomicFile } from './io/atomic-file.js';
import { FileSource } from './io/source.js';
import { ContainerReader } from './container/reader.js';
import type { ContainerIndex } from './container/format.js';
import { resolve } from 'node:path';

export const SUFFIX = '.mth';

export interface OutputOptions {
  /** Output path; default: the input with `.mth` added (compress) or removed (decompress). */
  output?: string;
  /** Replace an existing output file. */
  force?: boolean;
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

/** Runs `write` into an atomic output; on any failure the partial output is removed. */
async function writeAtomically<T>(input: FileSource, output: string, force: boolean, write: (file: AtomicFile) => Promise<T>): Promise<T> {
  if (resolve(output) === resolve(input.name)) throw new MithrilError(output, 'output would overwrite the input');
  let file: AtomicFile | undefined;
  try {
    file = new AtomicFile(output, force);
    const result = await write(file);
    file.commit();
    return result;
  } catch (error) {
    file?.abort();
    throw asFileError(output, error);
  } finally {
    input.close();
  }
}

export async function compressFile(input: string, options: OutputOptions & CompressOptions = {}): Promise<FileResult> {
  if (input.endsWith(SUFFIX) && !options.output) throw new MithrilError(input, `already has the ${SUFFIX} suffix`);
  const output = options.output ?? input + SUFFIX;
  const source = openInput(input);
  const result = await writeAtomically(source, output, options.force ?? false, (file) => compressStream(source, file.sink, options));
  return { ...result, input, output };
}

export async function decompressFile(input: string, options: OutputOptions & DecompressOptions = {}): Promise<FileResult> {
  if (!options.output && !input.endsWith(SUFFIX)) throw new MithrilError(input, `unknown suffix, expected ${SUFFIX} (use -o to name the output)`);
  const output = options.output ?? input.slice(0, -SUFFIX.length);
  const source = openInput(input);
  const reader = await writeAtomically(source, output, options.force ?? false, (file) => decompressStream(source, file.sink, options));
  return { input, output, originalSize: reader.index.source.size, compressedSize: source.size };
}

/** Decodes everything and checks every checksum, writing nothing. */
export async function verifyFile(input: string, options: DecompressOptions = {}): Promise<ContainerIndex> {
  const source = openInput(input);
  try {
    return (await decompressStream(source, null, options)).index;
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
