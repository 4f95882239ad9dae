import { CommanderError } from 'commander';

export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
/** As a process killed by SIGPIPE: the reader of our output went away. */
export const EXIT_BROKEN_PIPE = 141;

/** Thrown to end the command quietly when the reader of standard output has gone (`| head`), as a SIGPIPE death would. */
export class BrokenPipe extends Error {}
export const isBrokenPipe = (error: unknown): boolean => (error as NodeJS.ErrnoException | null)?.code === 'EPIPE';

export const usage = (message: string): CommanderError => new CommanderError(EXIT_USAGE, 'mithril.usage', `error: ${message}`);
