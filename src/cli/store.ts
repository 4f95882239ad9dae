import { Command, InvalidArgumentError, Option } from 'commander';
import { STDOUT } from '../files.js';
import { DEFAULT_MAX_DEPTH, REFERENCE, referencesNeeded, storeAdd, storeGet, storeList, storeRm, storeVerify, type EntryRecord } from '../store/store.js';
import { withProgress } from './progress.js';
import { ratio, shownOutput, size, table } from './report.js';

function parseDepth(text: string): number {
  const depth = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(depth >= 0 && depth <= 1000)) throw new InvalidArgumentError('expected a number of deltas, 0 (every entry a keyframe) to 1000');
  return depth;
}

/** `ls`: one line an entry, then the whole history's ratio, then the reference models entries need. */
function formatEntries(entries: EntryRecord[]): string {
  const byseq = new Map(entries.map((e) => [e.seq, e.name]));
  byseq.set(REFERENCE, 'reference');
  const total = entries.reduce((sum, e) => [sum[0]! + e.size, sum[1]! + e.stored], [0, 0]);
  const lines = table(
    ['name', 'original', 'stored', 'ratio', 'bases', 'depth', 'added'],
    [
      ...entries.map((e) => [e.kind === 'folder' ? `${e.name}/` : e.name, size(e.size), size(e.stored), ratio(e.size, e.stored), e.bases.map((s) => byseq.get(s)).join(', ') || 'keyframe', String(e.depth), e.added.replace(/\.\d+Z$/, 'Z')]),
      ['history', size(total[0]!), size(total[1]!), ratio(total[0]!, total[1]!), '', '', ''],
    ],
  );
  return [lines, ...referenceLines(entries)].join('\n');
}

/** For each reference model, the entries that cannot be restored without it. */
function referenceLines(entries: EntryRecord[]): string[] {
  return [...referencesNeeded(entries)].map(([path, names]) => `reference ${path}: needed by ${names.join(', ')}`);
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
    .action(async (dir: string, paths: string[], opts: { name?: string; fast?: boolean; reference?: string; maxDepth?: number; quiet?: boolean; threads: number }, command: Command) => {
      if (opts.name !== undefined && paths.length > 1) command.error('error: --name takes a single path', { exitCode: 2 });
      for (const path of paths) {
        const entry = await withProgress(`store add ${path}`, opts.quiet, (onProgress) => storeAdd(dir, path, { ...opts, onProgress }));
        if (!opts.quiet) console.error(`${dir}: ${entry.name}: ${size(entry.size)} -> ${size(entry.stored)} (ratio ${ratio(entry.size, entry.stored)}), ${entry.bases.length ? `delta, depth ${entry.depth}` : 'keyframe'}`);
      }
    });
  store
    .command('ls')
    .description('list the entries: sizes, ratio, bases and chain depth')
    .argument('<store>')
    .addOption(endpointOption())
    .option('--json', 'one JSON object per entry')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const entries = await storeList(dir);
      if (opts.json) for (const entry of entries) console.log(JSON.stringify(entry));
      else console.log(formatEntries(entries));
    });
  store
    .command('get')
    .description('restore an entry bit-exactly, through its chain of bases')
    .argument('<store>')
    .addOption(endpointOption())
    .argument('<name>')
    .option('-o, --output <path>', 'output file (a new folder for a folder entry), or - for standard output (default: the original name, here)')
    .option('-c, --stdout', 'write to standard output')
    .option('-f, --force', 'overwrite an existing output file')
    .option('-q, --quiet', 'print nothing but errors')
    .addOption(threadsOption())
    .action(async (dir: string, name: string, opts: { output?: string; stdout?: boolean; force?: boolean; quiet?: boolean; threads: number }) => {
      const output = opts.stdout ? STDOUT : opts.output;
      const result = await withProgress(`store get ${name}`, opts.quiet, (onProgress) => storeGet(dir, name, { ...opts, output, onProgress }));
      if (!opts.quiet) console.error(`${dir}: ${name}: restored ${result.originalSize} bytes, checksums ok => ${shownOutput(result.output)}`);
    });
  store
    .command('rm')
    .description('remove an entry; entries coded against it are re-coded first, so no other is lost')
    .argument('<store>')
    .addOption(endpointOption())
    .argument('<name>')
    .option('-q, --quiet', 'print nothing but errors')
    .addOption(threadsOption())
    .action(async (dir: string, name: string, opts: { quiet?: boolean; threads: number }) => {
      const { recoded } = await storeRm(dir, name, opts);
      if (!opts.quiet) console.error(`${dir}: ${name} removed${recoded.length ? `; re-coded ${recoded.join(', ')}` : ''}`);
    });
  store
    .command('verify')
    .description('decode every entry and check every checksum')
    .argument('<store>')
    .addOption(endpointOption())
    .addOption(threadsOption())
    .action(async (dir: string, opts: { threads: number }) => {
      const { entries, problems } = await storeVerify(dir, opts);
      for (const p of problems) console.error(`mithril: ${p.name}: ${p.problem}${p.dependents.length ? ` (needed by ${p.dependents.join(', ')})` : ''}`);
      if (problems.length) process.exitCode = 1;
      else console.log([`${dir}: ok (${entries} entries)`, ...referenceLines(await storeList(dir))].join('\n'));
    });
  return store;
}
