/**
 * Our temporary files and folders: their names, their removal when this process is interrupted,
 * and the removal of those a killed process (kill -9, a crash, a power cut) left behind.
 */
import { readdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname } from 'node:path';
// The project's hash, already loaded by every command (node:crypto would add ~7 ms to each start).
import { hex64, xxh64 } from '../checksum.js';

/** Temporaries still in use, removed if the process is interrupted. */
const pending = new Set<string>();

/** Files or folders of ours (a lock, a temporary) to remove if the process is interrupted before it removes them itself. */
export function removeIfInterrupted(path: string): void {
  pending.add(path);
}

export function keepAfterInterruption(path: string): void {
  pending.delete(path);
}

export function removePendingFiles(): void {
  for (const path of pending) rmSync(path, { recursive: true, force: true });
  pending.clear();
}

/** Whether process `pid` of this machine still runs (EPERM: it runs, as another user). */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let machine: string | undefined;

/** This machine in temporaries' names: in a folder that several machines share, another's pid means nothing here. */
function thisMachine(): string {
  machine ??= hex64(xxh64(hostname())).slice(0, 8);
  return machine;
}

/** `.NAME.tmp-MACHINE-PID[-RANDOM]`, as temporaryBeside makes them. */
const TEMPORARY = /^\..+\.tmp-([0-9a-f]{8})-(\d+)(-[0-9a-z]*)?$/;

/** Folders this process has already cleared. */
const cleared = new Set<string>();

/**
 * Removes the temporaries in `folder` that processes of this machine no longer running left there
 * (once per folder and process: a folder of many outputs is listed once).
 */
function clearLeftTemporaries(folder: string): void {
  if (cleared.has(folder)) return;
  cleared.add(folder);
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return; // an output there fails with its own message
  }
  for (const name of names) {
    const match = TEMPORARY.exec(name);
    if (!match || match[1] !== thisMachine() || processRuns(Number(match[2]))) continue;
    try {
      rmSync(`${folder}/${name}`, { recursive: true, force: true });
    } catch {
      // Tidying only: what cannot be removed stays, and the command goes on.
    }
  }
}

/**
 * A temporary's name beside `path`, hidden, naming this machine and process so that a later
 * command can tell when its writer is gone; `unique` adds a random part (several at once per
 * process). First clears that folder of what killed processes left (clearLeftTemporaries), so
 * that every maker of temporaries tidies after the ones before it.
 */
export function temporaryBeside(path: string, unique: boolean): string {
  const folder = dirname(path);
  clearLeftTemporaries(folder);
  const random = unique ? `-${Math.random().toString(36).slice(2, 8)}` : '';
  // Not join(): it would resolve `missing/..` away, and the rename into place would fail only at the end.
  return `${folder}/.${basename(path)}.tmp-${thisMachine()}-${process.pid}${random}`;
}
