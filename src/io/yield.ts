/** Bytes of synchronous work between two returns to the event loop (so signals and progress get through). */
const YIELD_BYTES = 64 * 1024 * 1024;
let sinceYield = 0;

export async function yieldEvery(bytes: number): Promise<void> {
  sinceYield += bytes;
  if (sinceYield < YIELD_BYTES) return;
  sinceYield = 0;
  await new Promise((resolve) => setImmediate(resolve));
}
