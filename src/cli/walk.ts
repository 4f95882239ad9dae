import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { METADATA_FILE } from '../formats/dcp.js';
import { looksLikeCheckpoint } from '../formats/detect.js';
import { SUFFIX } from '../files.js';
import { FileSource } from '../io/source.js';

/** A DCP folder's `.metadata` goes after the files it names: with --rm, they are compressed while it is still there to name their tensors. */
const lastOfFolder = (name: string): number => (name === METADATA_FILE ? 1 : 0);

/** Every file below `dir` (sorted, symbolic links not followed) for which `wanted` holds. */
async function walk(dir: string, wanted: (path: string) => Promise<boolean>): Promise<string[]> {
  const found: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => lastOfFolder(a.name) - lastOfFolder(b.name) || a.name.localeCompare(b.name));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await walk(path, wanted)));
    else if (entry.isFile() && (await wanted(path))) found.push(path);
  }
  return found;
}

async function isCheckpointFile(path: string): Promise<boolean> {
  if (path.endsWith(SUFFIX)) return false;
  let source: FileSource | undefined;
  try {
    source = new FileSource(path);
    return await looksLikeCheckpoint(source);
  } catch {
    return false;
  } finally {
    source?.close();
  }
}

/** An input file, and the folder it was found in relative to the folder given to -r ('' if given itself). */
export interface Input {
  path: string;
  folder: string;
}

/**
 * The files a command works on: as given, or with -r, every checkpoint (for compress) or every
 * .mth (otherwise) in the folder trees given; other files are left alone.
 */
export async function expandInputs(inputs: string[], recursive: boolean, containers: boolean): Promise<Input[]> {
  if (!recursive) return inputs.map((path) => ({ path, folder: '' }));
  const wanted = containers ? async (path: string) => path.endsWith(SUFFIX) : isCheckpointFile;
  const found: Input[] = [];
  for (const input of inputs) {
    if (!statSync(input, { throwIfNoEntry: false })?.isDirectory()) found.push({ path: input, folder: '' });
    else for (const path of await walk(input, wanted)) found.push({ path, folder: relative(input, dirname(path)) });
  }
  return found;
}
