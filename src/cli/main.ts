#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { MithrilError } from '../errors.js';
import { rmSync } from 'node:fs';
import { asFileError, compressFile, decompressFile, extractTensorFile, readIndex, verifyFile } from '../files.js';
import type { Summary } from '../summary.js';
import { expandInputs } from './walk.js';
import { removePendingFiles } from '../io/atomic-file.js';
import { defaultThreads } from '../parallel/executor.js';
import { summarize } from '../summary.js';
import { withProgress } from './progress.js';
import { formatResult, formatSummary, formatSummaryTable } from './report.js';

const EXIT_ERROR = 1;
const EXIT_USAGE = 2;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function parseThreads(text: string): number {
  const threads = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(threads >= 0 && threads <= 1024)) throw new InvalidArgumentError('expected a number of threads (0: one per core)');
  return threads === 0 ? defaultThreads() : threads;
}

const threadsOption = (): Option =>
  new Option('-T, --threads <n>', 'threads coding chunks (1: no worker threads)').argParser(parseThreads).default(defaultThreads(), 'one per core');

function parseSize(text: string): number {
  const match = /^(\d+)([kKmM]i?[bB]?)?$/.exec(text);
  const unit = match?.[2]?.[0]?.toLowerCase();
  const bytes = match ? Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1048576 : 1) : NaN;
  if (!(bytes >= 4096 && bytes <= 64 * 1048576)) throw new InvalidArgumentError('expected a size from 4K to 64M, e.g. 1M or 256K');
  return bytes;
}

/** One line for any failure: ours name the file already; file-system errors get the file added. */
function describe(file: string, error: unknown): string {
  const known = asFileError(file, error);
  if (known instanceof MithrilError) return known.message;
  if (process.env.MITHRIL_DEBUG) console.error(error);
  return `${file}: internal error: ${(known as Error)?.message ?? String(known)}`.replace(/\s+/g, ' ');
}

/** Runs `action` on every file, reporting each failure on one line; exits 1 if any failed. */
async function forEachFile(files: string[], action: (file: string) => Promise<void>): Promise<void> {
  let failed = false;
  for (const file of files) {
    try {
      await action(file);
    } catch (error) {
      console.error(`mithril: ${describe(file, error)}`);
      failed = true;
    }
  }
  if (failed) process.exitCode = EXIT_ERROR;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const BASE_HELP = 'an earlier checkpoint (original or .mth) the file was coded against; repeat for an older second base';

function singleOutput(files: string[], output: string | undefined): void {
  if (output !== undefined && files.length > 1) throw new CommanderError(EXIT_USAGE, 'mithril.usage', 'error: -o can only be used with a single input file');
}

const program = new Command('mithril')
  .description('Lossless, bit-exact compression of PyTorch checkpoints (.safetensors, torch.save .pt/.bin).')
  .version(version(), '-V, --version')
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`mithril: ${text.trim()}\n`) });

program
  .command('compress')
  .description('compress checkpoints to FILE.mth')
  .argument('<files...>')
  .option('-o, --output <path>', 'output file (one input only)')
  .option('-f, --force', 'overwrite existing output files')
  .option('-q, --quiet', 'print nothing but errors')
  .option('--best', 'also try slow, strong LZ on every plane and, with --base, a low-rank model of the residual signs (smaller on structured tensors and fine-tunes, much slower); implies --strong')
  .option('--strong', 'with --base: context-modelled delta coding, 4–35% smaller on the fixtures and 2–3 times slower')
  .option('--base <file>', 'code against an earlier checkpoint (original or .mth); give a second, older --base to predict from both', collect, [])
  .addOption(threadsOption())
  .addOption(new Option('--chunk-size <size>', 'bytes per independently coded chunk').argParser(parseSize).default(1048576, '1M'))
  .option('-r, --recursive', 'compress every checkpoint in the folders given (other files are left alone)')
  .option('--rm', 'remove each input once its output is complete')
  .action(async (inputs: string[], opts: { output?: string; force?: boolean; quiet?: boolean; best?: boolean; strong?: boolean; chunkSize: number; base: string[]; threads: number; recursive?: boolean; rm?: boolean }) => {
    const files = expandInputs(inputs, opts.recursive ?? false, false);
    singleOutput(files, opts.output);
    if (opts.base.length > 2) throw new CommanderError(EXIT_USAGE, 'mithril.usage', 'error: at most two --base files (the base and an older one)');
    await forEachFile(files, async (file) => {
      const result = await withProgress(`compress ${file}`, opts.quiet, (onProgress) => compressFile(file, { ...opts, bases: opts.base, onProgress }));
      if (opts.rm) rmSync(file);
      if (!opts.quiet) console.error(formatResult(file, result.output, result.originalSize, result.compressedSize));
    });
  });

program
  .command('decompress')
  .description('restore the original files from FILE.mth, checking every checksum')
  .argument('<files...>')
  .option('-o, --output <path>', 'output file (one input only)')
  .option('-f, --force', 'overwrite existing output files')
  .option('-q, --quiet', 'print nothing but errors')
  .option('--base <file>', BASE_HELP, collect, [])
  .addOption(threadsOption())
  .option('-r, --recursive', 'decompress every .mth in the folders given')
  .option('--rm', 'remove each .mth once its original is restored')
  .action(async (inputs: string[], opts: { output?: string; force?: boolean; quiet?: boolean; base: string[]; threads: number; recursive?: boolean; rm?: boolean }) => {
    const files = expandInputs(inputs, opts.recursive ?? false, true);
    singleOutput(files, opts.output);
    await forEachFile(files, async (file) => {
      const result = await withProgress(`decompress ${file}`, opts.quiet, (onProgress) => decompressFile(file, { ...opts, bases: opts.base, onProgress }));
      if (opts.rm) rmSync(file);
      if (!opts.quiet) console.error(`${file}: restored ${result.originalSize} bytes, checksums ok => ${result.output}`);
    });
  });

program
  .command('info')
  .description('show what a .mth file holds: tensors, dtypes, ratio per dtype and per plane')
  .argument('<files...>')
  .option('--json', 'print JSON')
  .option('--tensors', 'list every tensor')
  .option('-r, --recursive', 'every .mth in the folders given, as one summary table')
  .action(async (inputs: string[], opts: { json?: boolean; tensors?: boolean; recursive?: boolean }) => {
    const files = expandInputs(inputs, opts.recursive ?? false, true);
    const rows: [string, Summary][] = [];
    await forEachFile(files, async (file) => {
      const { index, compressedSize } = readIndex(file);
      const summary = summarize({ index, compressedSize });
      if (opts.json) console.log(JSON.stringify({ file, ...summary }));
      else if (opts.recursive) rows.push([file, summary]);
      else console.log(formatSummary(file, summary, opts.tensors ?? false));
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
  .action(async (inputs: string[], opts: { json?: boolean; quiet?: boolean; base: string[]; threads: number; recursive?: boolean }) => {
    await forEachFile(expandInputs(inputs, opts.recursive ?? false, true), async (file) => {
      try {
        const index = await withProgress(`verify ${file}`, opts.quiet, (onProgress) => verifyFile(file, { bases: opts.base, threads: opts.threads, onProgress }));
        if (opts.json) console.log(JSON.stringify({ file, ok: true, size: index.source.size, xxh64: index.source.xxh64 }));
        else if (!opts.quiet) console.log(`${file}: ok (${index.source.size} bytes, ${index.chunks.length} chunks, xxh64 ${index.source.xxh64})`);
      } catch (error) {
        if (opts.json) console.log(JSON.stringify({ file, ok: false, error: describe(file, error) }));
        throw error;
      }
    });
  });

program
  .command('extract')
  .description('write one tensor of a .mth file, decoding only its chunks')
  .argument('<file>')
  .argument('<tensor>', 'the tensor name, as `mithril info --tensors` lists it')
  .option('-o, --output <path>', 'output file (default: the tensor name with .raw or .npy)')
  .option('-f, --force', 'overwrite an existing output file')
  .addOption(new Option('--format <format>', 'raw bytes as stored, or a NumPy .npy file').choices(['raw', 'npy']).default('raw'))
  .option('--base <file>', BASE_HELP, collect, [])
  .action(async (file: string, tensor: string, opts: { output?: string; force?: boolean; format: 'raw' | 'npy'; base: string[] }) => {
    await forEachFile([file], async () => {
      const result = await extractTensorFile(file, tensor, { ...opts, bases: opts.base });
      console.error(`${file}: ${tensor} (${result.bytes} bytes) => ${result.output}`);
    });
  });

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    removePendingFiles();
    process.exit(code);
  });
}

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) {
    if (error.code === 'mithril.usage') console.error(`mithril: ${error.message}`);
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    console.error(`mithril: ${describe('mithril', error)}`);
    process.exitCode = EXIT_ERROR;
  }
}
