/** An error the user can act on: printed as one line, naming the file and the problem. */
export class MithrilError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'MithrilError';
  }
}
