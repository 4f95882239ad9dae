import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { looksLikeCheckpoint } from '../formats/detect.js';
import { SUFFIX } from '../files.js';
import { FileSource } from '../io/source.js';

/** Every file below `dir` (sorted, symbolic links not followed) for which `wanted` holds. */
function walk(dir: string, wanted: (path: string) => boolean): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...walk(path, wanted));
    else if (entry.isFile() && wanted(path)) found.push(path);
  }
  return found;
}

function isCheckpointFile(path: string): boolean {
  if (path.endsWith(SUFFIX)) return false;
  let source: FileSource | undefined;
  try {
    source = new FileSource(path);
    return looksLikeCheckpoint(source);
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
export function expandInputs(inputs: string[], recursive: boolean, containers: boolean): Input[] {
  if (!recursive) return inputs.map((path) => ({ path, folder: '' }));
  const wanted = containers ? (path: string) => path.endsWith(SUFFIX) : isCheckpointFile;
  return inputs.flatMap((input) =>
    statSync(input, { throwIfNoEntry: false })?.isDirectory()
      ? walk(input, wanted).map((path) => ({ path, folder: relative(input, dirname(path)) }))
      : [{ path: input, folder: '' }],
  );
}
