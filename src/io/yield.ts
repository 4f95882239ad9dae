/** Milliseconds of synchronous work between two returns to the event loop, so that signals and progress get through. */
const YIELD_MS = 50;
let lastYield = Date.now();

/** Returns to the event loop if this thread has worked without a break for YIELD_MS. */
export async function yieldNow(): Promise<void> {
  if (Date.now() - lastYield < YIELD_MS) return;
  await new Promise((resolve) => setImmediate(resolve));
  lastYield = Date.now();
}
