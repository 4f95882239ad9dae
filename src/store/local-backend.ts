import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AtomicFile } from '../io/atomic-file.js';
import { keepAfterInterruption, processRuns, removeIfInterrupted, temporaryBeside } from '../io/temporaries.js';
import type { StoreBackend } from './backend.js';

/** A store in a local folder: small files written whole (exclusively through a hard link), a lock file naming its holder's pid. */
export class LocalBackend implements StoreBackend {
  constructor(readonly root: string) {}

  path(name: string): string {
    return join(this.root, name);
  }

  async state(): Promise<'missing' | 'empty' | 'used'> {
    if (!existsSync(this.root)) return 'missing';
    // Empty but for a small file another add was writing when it died.
    return statSync(this.root).isDirectory() && readdirSync(this.root).every((name) => name.startsWith('.') && name.includes('.tmp-')) ? 'empty' : 'used';
  }

  async prepare(): Promise<void> {
    mkdirSync(join(this.root, 'data'), { recursive: true });
    mkdirSync(join(this.root, 'entries'), { recursive: true });
  }

  async read(name: string): Promise<string | undefined> {
    try {
      return readFileSync(this.path(name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async write(name: string, text: string, exclusive: boolean): Promise<boolean> {
    const target = this.path(name);
    if (!exclusive) {
      const file = new AtomicFile(target, true, true);
      try {
        await file.sink.write(new TextEncoder().encode(text));
        await file.commit();
      } catch (error) {
        file.abort();
        throw error;
      }
      return true;
    }
    // A temporary file, then a hard link that fails if the name is taken: whole, and only once.
    mkdirSync(dirname(target), { recursive: true });
    const temp = temporaryBeside(target, false);
    removeIfInterrupted(temp);
    const fd = openSync(temp, 'w');
    try {
      writeFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temp, target);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      unlinkSync(temp);
      keepAfterInterruption(temp);
    }
  }

  async list(folder: string): Promise<string[]> {
    return readdirSync(this.path(folder));
  }

  async remove(name: string): Promise<void> {
    rmSync(this.path(name), { force: true });
  }

  async link(from: string, to: string): Promise<void> {
    linkSync(this.path(from), this.path(to));
  }

  scratch(name: string): string {
    return join(this.root, 'data', name);
  }

  async lock<T>(work: () => Promise<T>): Promise<T> {
    const path = join(this.root, 'lock');
    for (;;) {
      try {
        const fd = openSync(path, 'wx');
        removeIfInterrupted(path);
        writeFileSync(fd, String(process.pid));
        closeSync(fd);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        if (!holderAlive(path)) unlinkSync(path);
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    try {
      return await work();
    } finally {
      unlinkSync(path);
      keepAfterInterruption(path);
    }
  }
}

/** Whether the process named in a lock file still runs (a lock just created may not name it yet). */
function holderAlive(lock: string): boolean {
  let text: string;
  try {
    text = readFileSync(lock, 'utf8');
  } catch {
    return true; // gone meanwhile: the next attempt takes it
  }
  const pid = Number(text);
  if (text === '' || !Number.isSafeInteger(pid) || pid <= 0) return Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) < 5000;
  return processRuns(pid);
}
