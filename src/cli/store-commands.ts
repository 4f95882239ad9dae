// What each `mithril store` command does, loaded by store.ts only once one runs.
import type { Command } from 'commander';
import { STDOUT } from '../files.js';
import { REFERENCE, referencesNeeded, storeAdd, storeGet, storeList, storeRm, storeVerify, type EntryRecord } from '../store/store.js';
import { threadsOf } from './commands.js';
import { withProgress } from './progress.js';
import { ratio, shownOutput, size, table } from './report.js';

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

export async function add(dir: string, paths: string[], opts: { name?: string; fast?: boolean; reference?: string; maxDepth?: number; quiet?: boolean; threads?: number }, command: Command): Promise<void> {
  if (opts.name !== undefined && paths.length > 1) command.error('error: --name takes a single path', { exitCode: 2 });
  for (const path of paths) {
    const entry = await withProgress(`store add ${path}`, opts.quiet, (onProgress) => storeAdd(dir, path, { ...opts, threads: threadsOf(opts), onProgress }));
    if (!opts.quiet) console.error(`${dir}: ${entry.name}: ${size(entry.size)} -> ${size(entry.stored)} (ratio ${ratio(entry.size, entry.stored)}), ${entry.bases.length ? `delta, depth ${entry.depth}` : 'keyframe'}`);
  }
}

export async function ls(dir: string, opts: { json?: boolean }): Promise<void> {
  const entries = await storeList(dir);
  if (opts.json) for (const entry of entries) console.log(JSON.stringify(entry));
  else console.log(formatEntries(entries));
}

export async function get(dir: string, name: string, opts: { output?: string; stdout?: boolean; force?: boolean; sync?: boolean; quiet?: boolean; threads?: number }): Promise<void> {
  const output = opts.stdout ? STDOUT : opts.output;
  const result = await withProgress(`store get ${name}`, opts.quiet, (onProgress) => storeGet(dir, name, { ...opts, output, threads: threadsOf(opts, true), onProgress }));
  if (!opts.quiet) console.error(`${dir}: ${name}: restored ${result.originalSize} bytes, checksums ok => ${shownOutput(result.output)}`);
}

export async function rm(dir: string, name: string, opts: { quiet?: boolean; threads?: number }): Promise<void> {
  const { recoded } = await storeRm(dir, name, { threads: threadsOf(opts) });
  if (!opts.quiet) console.error(`${dir}: ${name} removed${recoded.length ? `; re-coded ${recoded.join(', ')}` : ''}`);
}

export async function verify(dir: string, opts: { threads?: number }): Promise<void> {
  const { entries, problems } = await storeVerify(dir, { threads: threadsOf(opts, true) });
  for (const p of problems) console.error(`mithril: ${p.name}: ${p.problem}${p.dependents.length ? ` (needed by ${p.dependents.join(', ')})` : ''}`);
  if (problems.length) process.exitCode = 1;
  else console.log([`${dir}: ok (${entries} entries)`, ...referenceLines(await storeList(dir))].join('\n'));
}
