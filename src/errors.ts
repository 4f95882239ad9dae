/**
 * What went wrong, for programs: stable across releases, unlike the wording of `problem`.
 * - file system: NOT_FOUND, PERMISSION, IS_DIRECTORY, NO_SPACE, READ_ONLY, NOT_WRITABLE, EXISTS
 * - inputs: EMPTY, NOT_CHECKPOINT, INVALID_CHECKPOINT, UNSUPPORTED, NOT_CONTAINER, TRUNCATED,
 *   CORRUPT, CHECKSUM, CHANGED, NO_TENSOR, NO_ENTRY (a store has no such entry)
 * - bases: NEEDS_BASE, WRONG_BASE
 * - command line: USAGE
 * - object storage: REMOTE (the service cannot be reached, or refused for a reason not above)
 */
export type ErrorCode =
  | 'NOT_FOUND' | 'PERMISSION' | 'IS_DIRECTORY' | 'NO_SPACE' | 'READ_ONLY' | 'NOT_WRITABLE' | 'EXISTS'
  | 'EMPTY' | 'NOT_CHECKPOINT' | 'INVALID_CHECKPOINT' | 'UNSUPPORTED' | 'NOT_CONTAINER' | 'TRUNCATED'
  | 'CORRUPT' | 'CHECKSUM' | 'CHANGED' | 'NO_TENSOR' | 'NO_ENTRY'
  | 'NEEDS_BASE' | 'WRONG_BASE'
  | 'USAGE'
  | 'REMOTE';

/** An error the user can act on: printed as one line, naming the file and the problem. */
export class MithrilError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly code: ErrorCode,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'MithrilError';
  }
}
