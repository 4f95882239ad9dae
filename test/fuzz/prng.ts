/**
 * Seeded randomness for the fuzzer. Every case draws from its own generator, seeded from
 * (seed, target, case number) alone, so case N of seed S is the same whatever ran before it and
 * ranges of cases can run in any order or in parallel.
 */

/** mulberry32: a small, fast 32-bit PRNG, shared with the other tests. */
import { rng as mulberry32 } from '../helpers.js';
export { mulberry32 };

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The generator seed of one case: a hash of the run seed, the target's name and the case number. */
export function caseSeed(seed: number, target: string, caseNo: number): number {
  let h = fmix32(seed >>> 0);
  for (let i = 0; i < target.length; i++) h = fmix32(h ^ target.charCodeAt(i));
  h = fmix32(h ^ (caseNo >>> 0));
  return fmix32(h ^ Math.floor(caseNo / 2 ** 32));
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next();
  }

  /** An integer in [0, n) (n ≥ 1). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi], both included. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** One of `items`, each with its weight. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    const total = items.reduce((sum, [w]) => sum + w, 0);
    let x = this.next() * total;
    for (const [w, item] of items) {
      if (x < w) return item;
      x -= w;
    }
    return items[items.length - 1]![1];
  }

  byte(): number {
    return this.int(256);
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** 1..max, small values far more likely (each doubling half as likely). */
  small(max: number): number {
    const bits = Math.max(1, Math.ceil(Math.log2(max + 1)));
    const limit = 2 ** this.int(bits + 1);
    return Math.min(max, 1 + this.int(limit));
  }

  /** A random 64-bit value. */
  u64(): bigint {
    return (BigInt(this.int(2 ** 32)) << 32n) | BigInt(this.int(2 ** 32));
  }
}
