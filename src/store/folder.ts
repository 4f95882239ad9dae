import { readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { checksumOfSource } from '../checksum.js';
import { MithrilError } from '../errors.js';
import { FileSource } from '../io/source.js';
import type { ReferenceRecord } from './catalogue.js';

/**
 * The files of a checkpoint folder as sorted `/`-separated paths inside it, every level down,
 * links followed (a Hugging Face cache snapshot is links to blobs); anything but files and
 * folders is refused, and so is a link back to a folder above (it would never end).
 */
export function folderFiles(dir: string, under = '', above: string[] = []): string[] {
  const here = statSync(under ? `${dir}/${under}` : dir);
  const id = `${here.dev}:${here.ino}`;
  if (above.includes(id)) throw new MithrilError(`${dir}/${under}`, 'links back to a folder that holds it', 'UNSUPPORTED');
  const files: string[] = [];
  for (const name of readdirSync(under ? `${dir}/${under}` : dir).sort()) {
    const path = under ? `${under}/${name}` : name;
    const stat = statSync(`${dir}/${path}`);
    if (stat.isDirectory()) files.push(...folderFiles(dir, path, [...above, id]));
    else if (stat.isFile()) files.push(path);
    else throw new MithrilError(`${dir}/${path}`, 'is not a regular file or folder: a checkpoint folder holds only those', 'UNSUPPORTED');
  }
  return files;
}

/** Identifies a reference model (a file, or a folder of files) by each file's size and hash. */
export async function referenceRecord(path: string): Promise<ReferenceRecord> {
  const absolute = resolve(path);
  const stat = statSync(absolute, { throwIfNoEntry: false });
  if (!stat) throw new MithrilError(path, 'no such reference model', 'NOT_FOUND');
  const kind = stat.isDirectory() ? 'folder' : 'file';
  const paths = kind === 'folder' ? folderFiles(absolute) : [''];
  const files = [];
  for (const file of paths) {
    const source = new FileSource(file ? `${absolute}/${file}` : absolute);
    try {
      files.push({ path: file, ...(await checksumOfSource(source)) });
    } finally {
      source.close();
    }
  }
  return { path: absolute, kind, files };
}
