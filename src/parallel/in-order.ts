/**
 * Keeps up to `size` tasks in flight and hands their results to `handle` in the order the tasks
 * were added, so chunks coded on several threads are written in file order.
 */
export class InOrder<T, C> {
  private readonly queue: { context: C; result: Promise<T> }[] = [];

  constructor(
    private readonly size: number,
    private readonly handle: (result: T, context: C) => void | Promise<void>,
  ) {}

  /** Adds a task; once `size` are in flight, waits for the oldest and handles it. */
  async add(result: Promise<T>, context: C): Promise<void> {
    // A task may fail while an older one is awaited: its rejection is observed when its turn comes.
    result.catch(() => {});
    this.queue.push({ context, result });
    if (this.queue.length >= this.size) await this.next();
  }

  /** Handles every task still in flight, in order. */
  async drain(): Promise<void> {
    while (this.queue.length > 0) await this.next();
  }

  private async next(): Promise<void> {
    const { context, result } = this.queue.shift()!;
    await this.handle(await result, context);
  }
}
