import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join } from 'node:path';
import { MithrilError, type ErrorCode } from './errors.js';
import { compressStream, type CompressOptions, type UnusedBase } from './compress.js';
import { decompressStream, type DecompressOptions } from './decompress.js';
import { openInput, STDIN } from './io/input.js';
import { openOutput, STDOUT, type Output, type OutputMode } from './io/output.js';
import type { ByteSource } from './io/source.js';
import { isS3Url, s3BaseName } from './io/s3-url.js';
import { ContainerReader } from './container/reader.js';
import type { ContainerIndex } from './container/format.js';
import { matchBases, openBase, type BaseCheckpoint, type GivenBase } from './chunks/bases.js';
import { extractTensor } from './extract.js';
import { npyDtype, npyHeader } from './formats/npy.js';

/** Whether `fd` is a terminal; node:tty (which loads node:net) only when standard input or output is used, ~3 ms of a start. */
const isatty = (fd: number): boolean => (createRequire(import.meta.url)('node:tty') as typeof import('node:tty')).isatty(fd);

export const SUFFIX = '.mth';
export { STDIN, STDOUT };

export interface OutputOptions {
  /**
   * Output path: `-` for standard output, an existing directory to write inside it. Default: the
   * input with `.mth` added (compress), or the original's name beside the container (decompress);
   * standard output when the input is standard input.
   */
  output?: string;
  /** Replace an existing output file (synced before it is replaced). */
  force?: boolean;
  /**
   * Sync the output to disk before renaming it into place, as a caller that then removes the
   * input must; without it an output that replaces nothing is renamed unsynced (as zstd does).
   */
  sync?: boolean;
}

/** Base checkpoints by path (original files or their .mth): the base first, then an older one. */
export interface BaseOptions {
  bases?: readonly string[];
  /** Bases already open (a store's chain), used after those of `bases` and left open. */
  openedBases?: readonly GivenBase[];
}

export interface FileResult {
  input: string;
  /** The path written, or `-` for standard output. */
  output: string;
  originalSize: number;
  compressedSize: number;
}

export interface CompressFileResult extends FileResult {
  /** Bases given that the output was not coded against (and so does not need), by path. */
  unusedBases: { path: string; reason: UnusedBase['reason'] }[];
}

export interface VerifyResult {
  input: string;
  originalSize: number;
  compressedSize: number;
  chunks: number;
  /** xxh64 of the original file, 16 hex digits. */
  xxh64: string;
}

/** A container's index and size, as `summarize` takes them. */
export interface ContainerInfo {
  index: ContainerIndex;
  compressedSize: number;
}

/** Turns a Node.js file-system error into a one-line MithrilError naming the file. */
export function asFileError(path: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const problems: Record<string, [string, ErrorCode]> = {
    ENOENT: ['no such file or directory', 'NOT_FOUND'],
    EACCES: ['permission denied', 'PERMISSION'],
    EPERM: ['operation not permitted', 'PERMISSION'],
    EISDIR: ['is a directory', 'IS_DIRECTORY'],
    ENOTDIR: ['a part of the path is not a directory', 'NOT_FOUND'],
    ENOSPC: ['no space left on device', 'NO_SPACE'],
    EDQUOT: ['disk quota exceeded', 'NO_SPACE'],
    EROFS: ['read-only file system', 'READ_ONLY'],
  };
  const known = code ? problems[code] : undefined;
  return known ? new MithrilError(path, known[0], known[1]) : error;
}

async function open(path: string): Promise<ByteSource> {
  if (path === STDIN && isatty(0)) throw new MithrilError('stdin', 'is a terminal: pipe or redirect the input into it', 'USAGE');
  try {
    return await openInput(path);
  } catch (error) {
    throw asFileError(path, error);
  }
}

/** A folder to write into: an existing directory, or an object storage prefix (`s3://bucket/prefix/`). */
const isDirectory = (path: string): boolean => (isS3Url(path) ? path.endsWith('/') : (statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false));

/** `name` inside the folder `folder` (a prefix's URL keeps its `//`, which join() would fold). */
const inside = (folder: string, name: string): string => (isS3Url(folder) ? folder + name : join(folder, name));

/** Opens the base checkpoints named by `paths` (the same checkpoint given twice counts once), runs `use`, and closes them whatever happens. */
async function withBases<T>(options: BaseOptions, use: (bases: GivenBase[]) => Promise<T>): Promise<T> {
  const opened: GivenBase[] = [];
  try {
    for (const path of options.bases ?? []) {
      const source = await open(path);
      let base: BaseCheckpoint;
      try {
        base = await openBase(source);
      } catch (error) {
        source.close();
        throw asFileError(path, error);
      }
      const same = opened.some((o) => o.base.identity.size === base.identity.size && o.base.identity.xxh64 === base.identity.xxh64);
      if (same) base.close();
      else opened.push({ path, base });
    }
    return await use([...opened, ...(options.openedBases ?? [])]);
  } finally {
    for (const { base } of opened) base.close();
  }
}

/** Refuses an output that is the input itself under another name (a link, `./x`). */
function checkNotInput(input: string, output: string): void {
  if (input === STDIN || output === STDOUT) return;
  if (isS3Url(input) || isS3Url(output)) {
    if (input === output) throw new MithrilError(output, 'output would overwrite the input', 'USAGE');
    return;
  }
  const [a, b] = [statSync(input, { throwIfNoEntry: false }), statSync(output, { throwIfNoEntry: false })];
  if (a && b && a.dev === b.dev && a.ino === b.ino) throw new MithrilError(output, 'output would overwrite the input', 'USAGE');
}

/**
 * Runs `write` into the output at `path`; the output is committed (renamed into place, for a
 * regular file) only if the input and bases did not change meanwhile, and removed on any failure.
 * `expectedSize` (roughly; default the input's) sizes an upload's parts.
 */
export async function writeOutput<T>(
  input: ByteSource,
  path: string,
  mode: OutputMode,
  write: (output: Output) => Promise<T>,
  bases: readonly { base: BaseCheckpoint }[] = [],
  expectedSize = input.size,
): Promise<T> {
  let output: Output | undefined;
  try {
    output = await openOutput(path, mode, expectedSize);
    const result = await write(output);
    await input.checkUnchanged();
    for (const { base } of bases) await base.checkUnchanged();
    await output.commit();
    return result;
  } catch (error) {
    await output?.abort();
    throw asFileError(path, error);
  } finally {
    input.close();
  }
}

/** Where `compress` writes: `-` is standard output. */
function compressTarget(input: string, output: string | undefined): string {
  if (output === STDOUT || (output === undefined && input === STDIN)) return STDOUT;
  if (output !== undefined && !isDirectory(output)) return output;
  if (input === STDIN) throw new MithrilError('stdin', 'give the output file name with -o (or -c for standard output)', 'USAGE');
  if (input.endsWith(SUFFIX)) throw new MithrilError(input, `already has the ${SUFFIX} suffix`, 'USAGE');
  // An object is never written into a bucket unless named: by default its container comes here.
  if (isS3Url(input)) return inside(output ?? '.', s3BaseName(input) + SUFFIX);
  const stat = statSync(input, { throwIfNoEntry: false });
  if (stat?.isDirectory()) throw new MithrilError(input, 'is a directory', 'IS_DIRECTORY');
  if (output === undefined && stat && !stat.isFile()) throw new MithrilError(input, 'is not a regular file: name the output with -o, or use -c', 'USAGE');
  return output === undefined ? input + SUFFIX : inside(output, basename(input) + SUFFIX);
}

export async function compressFile(input: string, options: OutputOptions & BaseOptions & Omit<CompressOptions, 'bases'> = {}): Promise<CompressFileResult> {
  const output = compressTarget(input, options.output);
  if (output === STDOUT && isatty(1)) {
    throw new MithrilError('stdout', 'is a terminal: compressed data is not written to one (redirect it, or use -o)', 'USAGE');
  }
  checkNotInput(input, output);
  return withBases(options, async (bases) => {
    const source = await open(input);
    const originalName = options.originalName ?? (input === STDIN ? '' : undefined);
    const write = (file: Output) => compressStream(source, file.sink, { ...options, originalName, bases: bases.map((b) => b.base) });
    const result = await writeOutput(source, output, options, write, bases);
    const unusedBases = result.unusedBases.map(({ base, reason }) => ({ path: bases[base]!.path, reason }));
    return { input, output, originalSize: result.originalSize, compressedSize: result.compressedSize, unusedBases };
  });
}

/** A recorded original name that is safe to use as a file name here: one plain name, never a path. */
function safeName(recorded: string): string | undefined {
  return recorded !== '' && recorded !== '.' && recorded !== '..' && !/[/\\\0]/.test(recorded) ? recorded : undefined;
}

/**
 * The restored file's name: the container's own name without `.mth` when that still has an
 * extension (`model.safetensors.mth`), else the original name recorded inside (`-o d500.mth` was
 * `step500.safetensors`).
 */
function restoredName(input: string, recorded: string): string {
  const stripped = input !== STDIN && input.endsWith(SUFFIX) ? basename(input).slice(0, -SUFFIX.length) : '';
  if (stripped !== '' && extname(stripped) !== '') return stripped;
  const name = safeName(recorded) ?? (stripped || undefined);
  if (name === undefined) throw new MithrilError(input, `records no original name and has no ${SUFFIX} suffix: name the output with -o`, 'USAGE');
  return name;
}

/** Where `decompress` writes: `-` is standard output. */
function decompressTarget(input: string, output: string | undefined, recorded: string): string {
  if (output === STDOUT || (output === undefined && input === STDIN)) return STDOUT;
  if (output !== undefined && !isDirectory(output)) return output;
  const name = restoredName(input, recorded);
  // An object is restored into the current folder unless an output is named.
  return inside(output ?? (isS3Url(input) ? '.' : dirname(input)), name);
}

export async function decompressFile(input: string, options: OutputOptions & BaseOptions & Omit<DecompressOptions, 'bases'> = {}): Promise<FileResult> {
  return withBases(options, async (bases) => {
    const source = await open(input);
    let output: string;
    let reader: ContainerReader;
    try {
      reader = await ContainerReader.open(source);
      output = decompressTarget(input, options.output, reader.index.source.name);
      checkNotInput(input, output);
    } catch (error) {
      source.close();
      throw asFileError(input, error);
    }
    await writeOutput(source, output, options, (file) => decompressStream(reader, file.sink, { ...options, bases }), bases, reader.index.source.size);
    return { input, output, originalSize: reader.index.source.size, compressedSize: source.size };
  });
}

/** Decodes everything and checks every checksum, writing nothing. */
export async function verifyFile(input: string, options: BaseOptions & Omit<DecompressOptions, 'bases'> = {}): Promise<VerifyResult> {
  const source = await open(input);
  try {
    const { index } = await withBases(options, (bases) => decompressStream(source, null, { ...options, bases }));
    return { input, originalSize: index.source.size, compressedSize: source.size, chunks: index.chunks.length, xxh64: index.source.xxh64 };
  } catch (error) {
    throw asFileError(input, error);
  } finally {
    source.close();
  }
}

/** Reads a container's index without decoding any chunk. */
export async function readIndex(input: string): Promise<ContainerInfo> {
  const source = await open(input);
  try {
    return { index: (await ContainerReader.open(source)).index, compressedSize: source.size };
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
  const fileName = `${name.replace(/[^\w.-]/g, '_')}.${npy ? 'npy' : 'raw'}`;
  const output = options.output === undefined ? fileName : isDirectory(options.output) ? inside(options.output, fileName) : options.output;
  return withBases(options, async (bases) => {
    const source = await open(input);
    return writeOutput(source, output, options, async (file) => {
      const reader = await ContainerReader.open(source);
      const { tensor, bytes } = await extractTensor(reader, matchBases(reader, bases), name);
      if (npy) {
        if (!npyDtype(tensor.dtype)) throw new MithrilError(input, `tensor ${JSON.stringify(name)} is ${tensor.dtype}, which .npy cannot represent (extract it raw)`, 'UNSUPPORTED');
        await file.sink.write(npyHeader(tensor));
      }
      await file.sink.write(bytes);
      return { output, bytes: bytes.length };
    });
  });
}
