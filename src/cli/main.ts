#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UnusedBase } from '../compress.js';
import { MithrilError } from '../errors.js';
import { MAX_CHUNK_BYTES, MIN_CHUNK_BYTES } from '../limits.js';
import { asFileError, compressFile, decompressFile, extractTensorFile, readIndex, STDIN, STDOUT, verifyFile } from '../files.js';
import type { Summary } from '../summary.js';
import { expandInputs, type Input } from './walk.js';
import { removePendingFiles } from '../io/atomic-file.js';
import { abortPendingUploads, s3Connected, s3Fetched } from '../io/s3-process.js';
import { isS3Url } from '../io/s3-url.js';
import { defaultThreads } from '../parallel/executor.js';
import { summarize } from '../summary.js';
import { withProgress } from './progress.js';
import { storeCommand } from './store.js';
import { formatResult, formatSummary, formatSummaryTable, shownInput, shownOutput } from './report.js';

const EXIT_ERROR = 1;
const EXIT_USAGE = 2;
/** As a process killed by SIGPIPE: the reader of our output went away. */
const EXIT_BROKEN_PIPE = 141;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** More workers than this only cost memory and start-up time. */
const MAX_THREADS = 4 * defaultThreads();

function parseThreads(text: string): number {
  const threads = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(threads >= 0 && threads <= MAX_THREADS)) throw new InvalidArgumentError(`expected 1 to ${MAX_THREADS} threads (4 per core), or 0 for one per core`);
  return threads === 0 ? defaultThreads() : threads;
}

const threadsOption = (): Option =>
  new Option('-T, --threads <n>', 'threads coding chunks (1: no worker threads)').argParser(parseThreads).default(defaultThreads(), 'one per core');

function parseSize(text: string): number {
  const match = /^(\d+)([kKmM]i?[bB]?)?$/.exec(text);
  const unit = match?.[2]?.[0]?.toLowerCase();
  const bytes = match ? Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1048576 : 1) : NaN;
  if (!(bytes >= MIN_CHUNK_BYTES && bytes <= MAX_CHUNK_BYTES)) throw new InvalidArgumentError(`expected a size from ${MIN_CHUNK_BYTES >> 10}K to ${MAX_CHUNK_BYTES >> 20}M, e.g. 1M or 256K`);
  return bytes;
}

/** Thrown to end the command quietly when the reader of standard output has gone (`| head`), as a SIGPIPE death would. */
class BrokenPipe extends Error {}
const isBrokenPipe = (error: unknown): boolean => (error as NodeJS.ErrnoException | null)?.code === 'EPIPE';

/** One line for any failure: ours name the file already; file-system errors get the file added. */
function describe(file: string, error: unknown, directoryHint = ''): string {
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

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const BASE_HELP = 'an earlier checkpoint (original or .mth) the file was coded against; repeat for an older second base';

const usage = (message: string): CommanderError => new CommanderError(EXIT_USAGE, 'mithril.usage', `error: ${message}`);

interface OutputFlags {
  output?: string;
  stdout?: boolean;
  rm?: boolean;
}

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

const ENDPOINT_HELP = 'the S3-compatible service for s3:// paths (default: AWS_ENDPOINT_URL, else AWS itself)';

const program = new Command('mithril')
  .description('Lossless, bit-exact compression of PyTorch checkpoints (.safetensors, torch.save .pt/.bin, torch.distributed.checkpoint folders).')
  .version(version(), '-V, --version')
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`mithril: ${text.trim()}\n`) });

const UNUSED_BASE: Record<UnusedBase['reason'], string> = {
  unmatched: 'no tensor matched (same name, dtype and shape); coded alone, not needed to decompress',
  'no-gain': 'no gain over coding alone; not needed to decompress',
};

program
  .command('compress')
  .description('compress checkpoints to FILE.mth (FILE - reads standard input)')
  .argument('<files...>')
  .option('-o, --output <path>', 'output file, - for standard output, or an existing folder to write into')
  .option('-c, --stdout', 'write to standard output (never to a terminal)')
  .option('-f, --force', 'overwrite existing output files')
  .option('-q, --quiet', 'print nothing but errors')
  .option('--best', 'also try slow, strong LZ on every plane and, with --base, a low-rank model of the residual signs (smaller on structured tensors and fine-tunes, much slower); implies --strong')
  .option('--strong', 'with --base: context-modelled delta coding, 4–35% smaller on the fixtures and 2–3 times slower')
  .option('--base <file>', 'code against an earlier checkpoint (original or .mth); give a second, older --base to predict from both', collect, [])
  .addOption(threadsOption())
  .addOption(new Option('--chunk-size <size>', 'bytes per independently coded chunk').argParser(parseSize).default(1048576, '1M'))
  .option('-r, --recursive', 'compress every checkpoint in the folders given (other files are left alone)')
  .option('--endpoint <url>', ENDPOINT_HELP)
  .option('--rm', 'remove each input once its output is complete')
  .action(async (inputs: string[], opts: OutputFlags & { force?: boolean; quiet?: boolean; best?: boolean; strong?: boolean; chunkSize: number; base: string[]; threads: number; recursive?: boolean }) => {
    const files = await expandInputs(inputs, opts.recursive ?? false, false);
    const outputOf = outputFor(files, opts);
    if (opts.base.length > 2) throw usage('at most two --base files (the base and an older one)');
    if (opts.strong && !opts.best && !opts.base.length && !opts.quiet) console.error('mithril: note: --strong changes only coding against a --base; without one the output is the same as without it');
    await forEachFile(files, async (file) => {
      const options = { ...opts, output: outputOf(file), bases: opts.base };
      const result = await withProgress(`compress ${file.path}`, opts.quiet, (onProgress) => compressFile(file.path, { ...options, onProgress }));
      if (opts.rm) rmSync(file.path);
      if (opts.quiet) return;
      for (const { path, reason } of result.unusedBases) console.error(`mithril: base ${path}: ${UNUSED_BASE[reason]}`);
      console.error(formatResult(shownInput(file.path), shownOutput(result.output), result.originalSize, result.compressedSize));
    }, ' (use -r to compress the checkpoints in it)');
  });

program
  .command('decompress')
  .description('restore the original files from FILE.mth, checking every checksum (FILE - reads standard input)')
  .argument('<files...>')
  .option('-o, --output <path>', 'output file, - for standard output, or an existing folder to write into')
  .option('-c, --stdout', 'write to standard output')
  .option('-f, --force', 'overwrite existing output files')
  .option('-q, --quiet', 'print nothing but errors')
  .option('--base <file>', BASE_HELP, collect, [])
  .addOption(threadsOption())
  .option('-r, --recursive', 'decompress every .mth in the folders given')
  .option('--endpoint <url>', ENDPOINT_HELP)
  .option('--rm', 'remove each .mth once its original is restored')
  .action(async (inputs: string[], opts: OutputFlags & { force?: boolean; quiet?: boolean; base: string[]; threads: number; recursive?: boolean }) => {
    const files = await expandInputs(inputs, opts.recursive ?? false, true);
    const outputOf = outputFor(files, opts);
    await forEachFile(files, async (file) => {
      const options = { ...opts, output: outputOf(file), bases: opts.base };
      const result = await withProgress(`decompress ${file.path}`, opts.quiet, (onProgress) => decompressFile(file.path, { ...options, onProgress }));
      if (opts.rm) rmSync(file.path);
      if (!opts.quiet) console.error(`${shownInput(file.path)}: restored ${result.originalSize} bytes, checksums ok => ${shownOutput(result.output)}`);
    }, ' (use -r to decompress the .mth files in it)');
  });

program
  .command('info')
  .description('show what a .mth file holds: tensors, dtypes, ratio per dtype and per plane')
  .argument('<files...>')
  .option('--json', 'print JSON')
  .option('--tensors', 'list every tensor')
  .option('-r, --recursive', 'every .mth in the folders given, as one summary table')
  .option('--endpoint <url>', ENDPOINT_HELP)
  .action(async (inputs: string[], opts: { json?: boolean; tensors?: boolean; recursive?: boolean }) => {
    const files = await expandInputs(inputs, opts.recursive ?? false, true);
    const rows: [string, Summary][] = [];
    await forEachFile(files, async ({ path }) => {
      const summary = summarize(await readIndex(path));
      if (opts.json) console.log(JSON.stringify({ file: path, ...summary }));
      else if (opts.recursive) rows.push([path, summary]);
      else console.log(formatSummary(path, summary, opts.tensors ?? false));
    });
    if (rows.length) console.log(formatSummaryTable(rows));
  });

program
  .command('verify')
  .description('decode everything and check every checksum, writing nothing')
  .argument('<files...>')
  .option('--json', 'print one JSON object per file')
  .option('-q, --quiet', 'print nothing but errors')
  .option('--base <file>', BASE_HELP, collect, [])
  .addOption(threadsOption())
  .option('-r, --recursive', 'verify every .mth in the folders given')
  .option('--endpoint <url>', ENDPOINT_HELP)
  .action(async (inputs: string[], opts: { json?: boolean; quiet?: boolean; base: string[]; threads: number; recursive?: boolean }) => {
    await forEachFile(await expandInputs(inputs, opts.recursive ?? false, true), async ({ path }) => {
      try {
        const result = await withProgress(`verify ${path}`, opts.quiet, (onProgress) => verifyFile(path, { bases: opts.base, threads: opts.threads, onProgress }));
        if (opts.json) console.log(JSON.stringify({ file: path, ok: true, size: result.originalSize, xxh64: result.xxh64 }));
        else if (!opts.quiet) console.log(`${path}: ok (${result.originalSize} bytes, ${result.chunks} chunks, xxh64 ${result.xxh64})`);
      } catch (error) {
        if (opts.json) console.log(JSON.stringify({ file: path, ok: false, error: describe(path, error) }));
        throw error;
      }
    }, ' (use -r to verify the .mth files in it)');
  });

program
  .command('extract')
  .description('write one tensor of a .mth file, decoding only its chunks')
  .argument('<file>')
  .argument('<tensor>', 'the tensor name, as `mithril info --tensors` lists it')
  .option('-o, --output <path>', 'output file, - for standard output, or a folder to write into (default: the tensor name with .raw or .npy)')
  .option('-c, --stdout', 'write to standard output')
  .option('-f, --force', 'overwrite an existing output file')
  .addOption(new Option('--format <format>', 'raw bytes as stored, or a NumPy .npy file').choices(['raw', 'npy']).default('raw'))
  .option('--base <file>', BASE_HELP, collect, [])
  .option('--endpoint <url>', ENDPOINT_HELP)
  .action(async (file: string, tensor: string, opts: OutputFlags & { force?: boolean; format: 'raw' | 'npy'; base: string[] }) => {
    const input = { path: file, folder: '' };
    const output = outputFor([input], opts)(input);
    await forEachFile([input], async () => {
      const result = await extractTensorFile(file, tensor, { ...opts, output, bases: opts.base });
      console.error(`${file}: ${tensor} (${result.bytes} bytes) => ${shownOutput(result.output)}`);
    });
  });

program.addCommand(storeCommand(program, threadsOption, () => new Option('--endpoint <url>', ENDPOINT_HELP)));
program.hook('preAction', async (_, action) => {
  const { endpoint } = action.opts<{ endpoint?: string }>();
  if (endpoint !== undefined) (await import('../io/s3.js')).setS3Endpoint(endpoint);
});

/** How long an interrupted command waits for its uploads to be aborted before it exits anyway. */
const ABORT_WAIT_MS = 5000;

// Interrupted: remove our temporary files, abort our uploads, and exit as the signal would have (128 + its number).
for (const [signal, code] of [['SIGHUP', 129], ['SIGINT', 130], ['SIGQUIT', 131], ['SIGPIPE', 141], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    // A broken standard output still ends the command, through the EPIPE its next write gets.
    if (signal === 'SIGPIPE' && s3Connected()) return;
    removePendingFiles();
    const timeout = new Promise((resolve) => setTimeout(resolve, ABORT_WAIT_MS).unref());
    void Promise.race([abortPendingUploads(), timeout]).finally(() => process.exit(code));
  });
}
// For tests and benchmarks: what reading s3:// objects cost, written where MITHRIL_DEBUG_S3_BYTES names.
process.on('exit', () => {
  if (process.env.MITHRIL_DEBUG_S3_BYTES) writeFileSync(process.env.MITHRIL_DEBUG_S3_BYTES, JSON.stringify(s3Fetched) + '\n');
});
process.stdout.on('error', (error) => {
  if (!isBrokenPipe(error)) throw error;
  removePendingFiles();
  process.exit(EXIT_BROKEN_PIPE);
});

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof BrokenPipe) {
    process.exitCode = EXIT_BROKEN_PIPE;
  } else if (error instanceof CommanderError) {
    if (error.code === 'mithril.usage') console.error(`mithril: ${error.message}`);
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    console.error(`mithril: ${describe('mithril', error)}`);
    process.exitCode = EXIT_ERROR;
  }
}
