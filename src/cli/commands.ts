// What each command does, loaded by main.ts only once a command runs (`--version`, `--help` and
// usage errors need none of the library).
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { UnusedBase } from '../compress.js';
import { MithrilError } from '../errors.js';
import { asFileError, compressFile, decompressFile, extractTensorFile, readIndex, STDIN, STDOUT, verifyFile } from '../files.js';
import { defaultThreads } from '../parallel/executor.js';
import type { Summary } from '../summary.js';
import { summarize } from '../summary.js';
import { BrokenPipe, EXIT_ERROR, isBrokenPipe, usage } from './exit.js';
import { isS3Url } from '../io/s3-url.js';
import { withProgress } from './progress.js';
import { formatResult, formatSummary, formatSummaryTable, shownInput, shownOutput } from './report.js';
import { expandInputs, type Input } from './walk.js';

/** One line for any failure: ours name the file already; file-system errors get the file added. */
export function describe(file: string, error: unknown, directoryHint = ''): string {
  const known = asFileError(file, error);
  if (known instanceof MithrilError) return known.code === 'IS_DIRECTORY' && known.file === file ? `${known.message}${directoryHint}` : known.message;
  if (process.env.MITHRIL_DEBUG) console.error(error);
  return `${file}: internal error: ${(known as Error)?.message ?? String(known)}`.replace(/\s+/g, ' ');
}

/** Runs `action` on every file, reporting each failure on one line; exits 1 if any failed. */
async function forEachFile(files: Input[], action: (file: Input) => Promise<void>, directoryHint = ''): Promise<void> {
  let failed = false;
  for (const file of files) {
    try {
      await action(file);
    } catch (error) {
      if (isBrokenPipe(error)) throw new BrokenPipe();
      console.error(`mithril: ${describe(file.path, error, directoryHint)}`);
      failed = true;
    }
  }
  if (failed) process.exitCode = EXIT_ERROR;
}

interface OutputFlags {
  output?: string;
  stdout?: boolean;
  force?: boolean;
  rm?: boolean;
  sync?: boolean;
}

interface ThreadFlags {
  threads?: number;
}

/**
 * Threads given with -T, else one — more were not faster on the machine measured, where one
 * thread already keeps the page cache's share of the cores busy — except for CPU-bound work
 * (`slow`): `--best`'s trials, and restoring deltas (`--base`, a store's entries), where one per
 * core pays (docs/DESIGN.md, "Workers").
 */
export const threadsOf = (flags: ThreadFlags, slow = false): number => flags.threads ?? (slow ? defaultThreads() : 1);

/**
 * The library's output options for these flags. The output is synced before its rename when the
 * input is about to be removed (`--rm`), as with --sync; replacing a file syncs in any case.
 */
const outputOptions = (flags: OutputFlags, output: string | undefined) => ({ output, force: flags.force, sync: (flags.sync ?? false) || (flags.rm ?? false) });

/**
 * The `-o` to use for each input: `-c` is `-o -`; with several inputs `-o` must be an existing
 * folder, inside which -r mirrors the folders the inputs were found in.
 */
function outputFor(files: Input[], flags: OutputFlags): (file: Input) => string | undefined {
  const output = flags.stdout ? STDOUT : flags.output;
  if (flags.stdout && flags.output !== undefined && flags.output !== STDOUT) throw usage('-c and -o name two different outputs');
  const folder = output !== undefined && output !== STDOUT && (isS3Url(output) ? output.endsWith('/') : statSync(output, { throwIfNoEntry: false })?.isDirectory());
  if (files.length > 1 && output !== undefined && !folder) throw usage(output === STDOUT ? 'standard output takes a single input' : '-o with several inputs must be an existing folder');
  const streams = output === STDOUT || files.some((f) => f.path === STDIN);
  if (flags.rm && streams) throw usage('--rm needs a file input and a file output');
  if (flags.rm && files.some((f) => isS3Url(f.path))) throw usage('--rm removes local files only, not s3:// objects');
  if (!folder) return () => output;
  if (isS3Url(output)) return (file) => (file.folder ? `${output}${file.folder}/` : output);
  return (file) => {
    const inside = join(output, file.folder);
    mkdirSync(inside, { recursive: true });
    return inside;
  };
}

const UNUSED_BASE: Record<UnusedBase['reason'], string> = {
  unmatched: 'no tensor matched (same name, dtype and shape); coded alone, not needed to decompress',
  'no-gain': 'no gain over coding alone; not needed to decompress',
};

export interface CompressFlags extends OutputFlags, ThreadFlags {
  quiet?: boolean;
  best?: boolean;
  strong?: boolean;
  fast?: boolean;
  chunkSize: number;
  base: string[];
  recursive?: boolean;
}

export async function compress(inputs: string[], opts: CompressFlags): Promise<void> {
  const files = await expandInputs(inputs, opts.recursive ?? false, false);
  const outputOf = outputFor(files, opts);
  if (opts.base.length > 2) throw usage('at most two --base files (the base and an older one)');
  if (opts.strong && opts.fast) throw usage('--fast and --strong name two different delta coders');
  const coder = opts.fast ? '--fast' : opts.strong ? '--strong' : undefined;
  if (coder && !opts.best && !opts.base.length && !opts.quiet) console.error(`mithril: note: ${coder} changes only coding against a --base; without one the output is the same as without it`);
  await forEachFile(files, async (file) => {
    const options = { ...opts, ...outputOptions(opts, outputOf(file)), bases: opts.base, threads: threadsOf(opts, opts.best) };
    const result = await withProgress(`compress ${file.path}`, opts.quiet, (onProgress) => compressFile(file.path, { ...options, onProgress }));
    if (opts.rm) rmSync(file.path);
    if (opts.quiet) return;
    for (const { path, reason } of result.unusedBases) console.error(`mithril: base ${path}: ${UNUSED_BASE[reason]}`);
    console.error(formatResult(shownInput(file.path), shownOutput(result.output), result.originalSize, result.compressedSize));
  }, ' (use -r to compress the checkpoints in it)');
}

export interface DecompressFlags extends OutputFlags, ThreadFlags {
  quiet?: boolean;
  base: string[];
  recursive?: boolean;
}

export async function decompress(inputs: string[], opts: DecompressFlags): Promise<void> {
  const files = await expandInputs(inputs, opts.recursive ?? false, true);
  const outputOf = outputFor(files, opts);
  await forEachFile(files, async (file) => {
    const options = { ...outputOptions(opts, outputOf(file)), bases: opts.base, threads: threadsOf(opts, opts.base.length > 0) };
    const result = await withProgress(`decompress ${file.path}`, opts.quiet, (onProgress) => decompressFile(file.path, { ...options, onProgress }));
    if (opts.rm) rmSync(file.path);
    if (!opts.quiet) console.error(`${shownInput(file.path)}: restored ${result.originalSize} bytes, checksums ok => ${shownOutput(result.output)}`);
  }, ' (use -r to decompress the .mth files in it)');
}

export async function info(inputs: string[], opts: { json?: boolean; tensors?: boolean; recursive?: boolean }): Promise<void> {
  const files = await expandInputs(inputs, opts.recursive ?? false, true);
  const rows: [string, Summary][] = [];
  await forEachFile(files, async ({ path }) => {
    const summary = summarize(await readIndex(path));
    if (opts.json) console.log(JSON.stringify({ file: path, ...summary }));
    else if (opts.recursive) rows.push([path, summary]);
    else console.log(formatSummary(path, summary, opts.tensors ?? false));
  });
  if (rows.length) console.log(formatSummaryTable(rows));
}

export async function verify(inputs: string[], opts: ThreadFlags & { json?: boolean; quiet?: boolean; base: string[]; recursive?: boolean }): Promise<void> {
  await forEachFile(await expandInputs(inputs, opts.recursive ?? false, true), async ({ path }) => {
    try {
      const result = await withProgress(`verify ${path}`, opts.quiet, (onProgress) => verifyFile(path, { bases: opts.base, threads: threadsOf(opts, opts.base.length > 0), onProgress }));
      if (opts.json) console.log(JSON.stringify({ file: path, ok: true, size: result.originalSize, xxh64: result.xxh64 }));
      else if (!opts.quiet) console.log(`${path}: ok (${result.originalSize} bytes, ${result.chunks} chunks, xxh64 ${result.xxh64})`);
    } catch (error) {
      if (opts.json) console.log(JSON.stringify({ file: path, ok: false, error: describe(path, error) }));
      throw error;
    }
  }, ' (use -r to verify the .mth files in it)');
}

export interface ExtractFlags extends OutputFlags {
  format: 'raw' | 'npy';
  base: string[];
}

export async function extract(file: string, tensor: string, opts: ExtractFlags): Promise<void> {
  const input = { path: file, folder: '' };
  const output = outputFor([input], opts)(input);
  await forEachFile([input], async () => {
    const result = await extractTensorFile(file, tensor, { ...outputOptions(opts, output), format: opts.format, bases: opts.base });
    console.error(`${file}: ${tensor} (${result.bytes} bytes) => ${shownOutput(result.output)}`);
  });
}
