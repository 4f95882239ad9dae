import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_MAX_DEPTH } from '../store/catalogue.js';

type StoreCommands = typeof import('./store-commands.js');
const commands = () => import('./store-commands.js');

function parseDepth(text: string): number {
  const depth = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(depth >= 0 && depth <= 1000)) throw new InvalidArgumentError('expected a number of deltas, 0 (every entry a keyframe) to 1000');
  return depth;
}

/** `mithril store …`: a training run's checkpoints as keyframes and deltas, with bases chosen automatically. */
export function storeCommand(program: Command, threadsOption: () => Option, endpointOption: () => Option): Command {
  // Settings first, so the subcommands made below inherit the program's one-line errors and exit codes.
  const store = new Command('store').copyInheritedSettings(program).description("keep a training run's checkpoints (in a folder, or under an s3:// prefix): keyframes and deltas, bases chosen automatically");
  store
    .command('add')
    .description('add checkpoints (files, or - for standard input with --name), creating the store if needed')
    .argument('<store>')
    .addOption(endpointOption())
    .argument('<paths...>')
    .option('--name <name>', 'the entry name (default: the file name; one path only)')
    .option('--fast', 'the quick delta coder instead of --strong')
    .option('--reference <path>', 'a read-only model (file or folder) outside the store to code against, e.g. the pretrained model a fine-tune starts from; recorded when the store is new')
    .addOption(new Option('--max-depth <n>', `for a new store: the most deltas a restore decodes in a row (default ${DEFAULT_MAX_DEPTH})`).argParser(parseDepth))
    .option('-q, --quiet', 'print nothing but errors')
    .addOption(threadsOption())
    .action(async (dir: string, paths: string[], opts: Parameters<StoreCommands['add']>[2], command: Command) => (await commands()).add(dir, paths, opts, command));
  store
    .command('ls')
    .description('list the entries: sizes, ratio, bases and chain depth')
    .argument('<store>')
    .addOption(endpointOption())
    .option('--json', 'one JSON object per entry')
    .action(async (dir: string, opts: { json?: boolean }) => (await commands()).ls(dir, opts));
  store
    .command('get')
    .description('restore an entry bit-exactly, through its chain of bases')
    .argument('<store>')
    .addOption(endpointOption())
    .argument('<name>')
    .option('-o, --output <path>', 'output file (a new folder for a folder entry), or - for standard output (default: the original name, here)')
    .option('-c, --stdout', 'write to standard output')
    .option('-f, --force', 'overwrite an existing output file')
    .option('--sync', 'sync each restored file to disk before renaming it into place (done anyway when it replaces a file)')
    .option('-q, --quiet', 'print nothing but errors')
    .addOption(threadsOption())
    .action(async (dir: string, name: string, opts: Parameters<StoreCommands['get']>[2]) => (await commands()).get(dir, name, opts));
  store
    .command('rm')
    .description('remove an entry; entries coded against it are re-coded first, so no other is lost')
    .argument('<store>')
    .addOption(endpointOption())
    .argument('<name>')
    .option('-q, --quiet', 'print nothing but errors')
    .addOption(threadsOption())
    .action(async (dir: string, name: string, opts: { quiet?: boolean; threads?: number }) => (await commands()).rm(dir, name, opts));
  store
    .command('verify')
    .description('decode every entry and check every checksum')
    .argument('<store>')
    .addOption(endpointOption())
    .addOption(threadsOption())
    .action(async (dir: string, opts: { threads?: number }) => (await commands()).verify(dir, opts));
  return store;
}
