#!/usr/bin/env node
// The command line's grammar; what each command does is in commands.ts, loaded only when one runs.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { MAX_CHUNK_BYTES, MIN_CHUNK_BYTES } from '../limits.js';
import { removePendingFiles } from '../io/temporaries.js';
import { abortPendingUploads, s3Connected, s3Fetched } from '../io/s3-process.js';
import { BrokenPipe, EXIT_BROKEN_PIPE, EXIT_ERROR, EXIT_USAGE, isBrokenPipe } from './exit.js';
import { storeCommand } from './store.js';
import type { CompressFlags, DecompressFlags, ExtractFlags } from './commands.js';

const commands = () => import('./commands.js');

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** More workers than this only cost memory and start-up time. */
const MAX_THREADS = 4 * availableParallelism();

/** A thread count; 0 is one per core. */
function parseThreads(text: string): number {
  const threads = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(threads >= 0 && threads <= MAX_THREADS)) throw new InvalidArgumentError(`expected 1 to ${MAX_THREADS} threads (4 per core), or 0 for one per core`);
  return threads === 0 ? availableParallelism() : threads;
}

const threadsOption = (): Option => new Option('-T, --threads <n>', 'threads coding chunks, 0 for one per core (default: 1; one per core for compress --best and for restoring deltas: decompress and verify --base, store get and verify)').argParser(parseThreads);

function parseSize(text: string): number {
  const match = /^(\d+)([kKmM]i?[bB]?)?$/.exec(text);
  const unit = match?.[2]?.[0]?.toLowerCase();
  const bytes = match ? Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1048576 : 1) : NaN;
  if (!(bytes >= MIN_CHUNK_BYTES && bytes <= MAX_CHUNK_BYTES)) throw new InvalidArgumentError(`expected a size from ${MIN_CHUNK_BYTES >> 10}K to ${MAX_CHUNK_BYTES >> 20}M, e.g. 1M or 256K`);
  return bytes;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const SYNC_HELP = 'sync each output to disk before renaming it into place (done anyway when it replaces a file, or with --rm)';
const ENDPOINT_HELP = 'the S3-compatible service for s3:// paths (default: AWS_ENDPOINT_URL, else AWS itself)';
const BASE_HELP = 'an earlier checkpoint (original or .mth) the file was coded against; repeat for an older second base';

const program = new Command('mithril')
  .description('Lossless, bit-exact compression of PyTorch checkpoints (.safetensors, torch.save .pt/.bin, torch.distributed.checkpoint folders).')
  .version(version(), '-V, --version')
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`mithril: ${text.trim()}\n`) });

program
  .command('compress')
  .description('compress checkpoints to FILE.mth (FILE - reads standard input)')
  .argument('<files...>')
  .option('-o, --output <path>', 'output file, - for standard output, or an existing folder to write into')
  .option('-c, --stdout', 'write to standard output (never to a terminal)')
  .option('-f, --force', 'overwrite existing output files')
  .option('-q, --quiet', 'print nothing but errors')
  .option('--best', 'also try slow, strong LZ on every plane and, with --base, a low-rank model of the residual signs (smaller on structured tensors and fine-tunes, much slower); overrides --fast')
  .option('--fast', 'with --base: the quick delta coder (ULP residuals in byte planes), up to 4 times faster but 1–33% larger on the fixtures')
  .option('--strong', 'with --base: context-modelled delta coding (the default; accepted so that scripts naming it keep working)')
  .option('--base <file>', 'code against an earlier checkpoint (original or .mth); give a second, older --base to predict from both', collect, [])
  .addOption(threadsOption())
  .addOption(new Option('--chunk-size <size>', 'bytes per independently coded chunk').argParser(parseSize).default(1048576, '1M'))
  .option('-r, --recursive', 'compress every checkpoint in the folders given (other files are left alone)')
  .option('--endpoint <url>', ENDPOINT_HELP)
  .option('--rm', 'remove each input once its output is complete (and synced)')
  .option('--sync', SYNC_HELP)
  .action(async (inputs: string[], opts: CompressFlags) => (await commands()).compress(inputs, opts));

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
  .option('--rm', 'remove each .mth once its original is restored (and synced)')
  .option('--sync', SYNC_HELP)
  .action(async (inputs: string[], opts: DecompressFlags) => (await commands()).decompress(inputs, opts));

program
  .command('info')
  .description('show what a .mth file holds: tensors, dtypes, ratio per dtype and per plane')
  .argument('<files...>')
  .option('--json', 'print JSON')
  .option('--tensors', 'list every tensor')
  .option('-r, --recursive', 'every .mth in the folders given, as one summary table')
  .option('--endpoint <url>', ENDPOINT_HELP)
  .action(async (inputs: string[], opts: { json?: boolean; tensors?: boolean; recursive?: boolean }) => (await commands()).info(inputs, opts));

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
  .action(async (inputs: string[], opts: { json?: boolean; quiet?: boolean; base: string[]; threads?: number; recursive?: boolean }) => (await commands()).verify(inputs, opts));

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
  .option('--sync', SYNC_HELP)
  .action(async (file: string, tensor: string, opts: ExtractFlags) => (await commands()).extract(file, tensor, opts));

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

// Not a top-level await: the bundle is CommonJS, which Node loads faster (docs/DESIGN.md, "Start-up").
async function run(): Promise<void> {
  try {
    await program.parseAsync();
  } catch (error) {
    if (error instanceof BrokenPipe) {
      process.exitCode = EXIT_BROKEN_PIPE;
    } else if (error instanceof CommanderError) {
      if (error.code === 'mithril.usage') console.error(`mithril: ${error.message}`);
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
    } else {
      console.error(`mithril: ${(await commands()).describe('mithril', error)}`);
      process.exitCode = EXIT_ERROR;
    }
  }
}
void run();
