/**
 * Choosing the residual coder's context ranges: the contexts that occur are partitioned into
 * contiguous ranges, by dynamic programming over the estimated coded size including each range's
 * frequency table; each range gets one rANS table.
 */
import { estimateTableBits } from '../codec/rans.js';

/**
 * The DP considers context ranges spanning at most this many occurring contexts; half as many when
 * more than DP_MANY occur (about the same output, half the DP time).
 */
const DP_WINDOW = 32;
const DP_MANY = 96;
/** Estimated cost in bits of one more range boundary in the side information. */
const RANGE_BITS = 8;
/** The key → range map holds bytes. */
export const MAX_RANGES = 255;

/**
 * c · log2(c) for counts up to the elements of a default 1 MiB chunk of 16-bit values: the DP looks
 * these up for every count it sums, and Math.log2 is slow. Extended only as far as the counts met
 * (building it whole costs tens of milliseconds, too much for a small file's whole command).
 */
const CLOGC_TABLE = 1 << 19;
let clogcTable = new Float64Array(1);

/** The table, covering at least counts up to `max` (or all CLOGC_TABLE). */
function clogcTableFor(max: number): Float64Array {
  const have = clogcTable.length;
  if (max >= have && have <= CLOGC_TABLE) {
    const grown = new Float64Array(Math.min(CLOGC_TABLE, Math.max(max, 2 * have)) + 1);
    grown.set(clogcTable);
    for (let c = have; c < grown.length; c++) grown[c] = c * Math.log2(c);
    clogcTable = grown;
  }
  return clogcTable;
}

/** From the table where it reaches, else computed: the same value either way. */
function clogc(c: number): number {
  return c < clogcTable.length ? clogcTable[c]! : c * Math.log2(c);
}

/** Keys that occur, ascending: rows of the histogram in [keyMin, keyMax] with a nonzero count. */
export function presentKeys(hist: Int32Array, keyMin: number, keyMax: number, alphabet: number): number[] {
  const present: number[] = [];
  for (let key = keyMin; key <= keyMax; key++) {
    const row = key * alphabet;
    for (let s = 0; s < alphabet; s++) {
      if (hist[row + s] !== 0) {
        present.push(key);
        break;
      }
    }
  }
  return present;
}

/**
 * Partitions the occurring keys into contiguous ranges minimizing entropy + table cost.
 * Returns the start key of every range after the first (the first starts at key 0).
 */
export function chooseRanges(hist: Int32Array, present: number[], alphabet: number): number[] {
  const m = present.length;
  if (m <= 1) return [];
  // Per row its nonzero counts as (symbol, count), ascending, rows end to end from rowStart[i].
  const rowStart = new Int32Array(m + 1);
  const symbols = new Int32Array(m * alphabet);
  const counts = new Float64Array(m * alphabet);
  const rowLo = new Int32Array(m);
  const rowHi = new Int32Array(m);
  const rowTotal = new Float64Array(m);
  for (let i = 0, at = 0; i < m; i++) {
    const row = present[i]! * alphabet;
    let total = 0;
    rowStart[i] = at;
    for (let s = 0; s < alphabet; s++) {
      const c = hist[row + s]!;
      if (c !== 0) {
        symbols[at] = s;
        counts[at++] = c;
        total += c;
      }
    }
    rowStart[i + 1] = at;
    rowLo[i] = symbols[rowStart[i]!]!;
    rowHi[i] = symbols[at - 1]!;
    rowTotal[i] = total;
  }
  const table = clogcTableFor(rowTotal.reduce((a, b) => a + b, 0));
  const top = table.length - 1;
  const window = m > DP_MANY ? DP_WINDOW / 2 : DP_WINDOW;
  const best = new Float64Array(m + 1).fill(Infinity);
  const from = new Int32Array(m + 1);
  best[0] = 0;
  const sum = new Float64Array(alphabet);
  for (let j = 1; j <= m; j++) {
    sum.fill(0);
    let n = 0;
    let sumClogc = 0;
    let lo = alphabet;
    let hi = -1;
    const stop = Math.max(0, j - window);
    for (let i = j - 1; i >= stop; i--) {
      for (let e = rowStart[i]!; e < rowStart[i + 1]!; e++) {
        const s = symbols[e]!;
        const old = sum[s]!;
        const now = old + counts[e]!;
        sum[s] = now;
        sumClogc += (now <= top ? table[now]! : now * Math.log2(now)) - (old <= top ? table[old]! : old * Math.log2(old));
      }
      const a = rowLo[i]!;
      const b = rowHi[i]!;
      if (a < lo) lo = a;
      if (b > hi) hi = b;
      n += rowTotal[i]!;
      const cost = best[i]! + clogc(n) - sumClogc + estimateTableBits(lo, hi, alphabet) + RANGE_BITS;
      if (cost < best[j]!) {
        best[j] = cost;
        from[j] = i;
      }
    }
  }
  let starts: number[] = [];
  for (let j = m; j > 0; j = from[j]!) starts.push(from[j]!);
  starts.reverse(); // indexes into present, starts[0] === 0
  if (starts.length > MAX_RANGES) starts = mergeRanges(starts, present, hist, alphabet);
  return starts.slice(1).map((i) => present[i]!);
}

/** Rarely needed: greedily merges the adjacent pair of ranges that costs least until ≤ MAX_RANGES remain. */
function mergeRanges(starts: number[], present: number[], hist: Int32Array, alphabet: number): number[] {
  const m = present.length;
  const cost = (a: number, b: number): number => {
    const sum = new Float64Array(alphabet);
    for (let i = a; i < b; i++) for (let s = 0; s < alphabet; s++) sum[s] += hist[present[i]! * alphabet + s]!;
    let n = 0;
    let c = 0;
    let lo = alphabet;
    let hi = 0;
    for (let s = 0; s < alphabet; s++) {
      if (sum[s] === 0) continue;
      n += sum[s]!;
      c += clogc(sum[s]!);
      lo = Math.min(lo, s);
      hi = s;
    }
    return clogc(n) - c + estimateTableBits(lo, hi, alphabet);
  };
  const s = starts.slice();
  while (s.length > MAX_RANGES) {
    let bestK = 1;
    let bestD = Infinity;
    for (let k = 1; k < s.length; k++) {
      const end = k + 1 < s.length ? s[k + 1]! : m;
      const d = cost(s[k - 1]!, end) - cost(s[k - 1]!, s[k]!) - cost(s[k]!, end);
      if (d < bestD) {
        bestD = d;
        bestK = k;
      }
    }
    s.splice(bestK, 1);
  }
  return s;
}

/** Per key its range, given the ranges' start keys after the first. */
export function keyMapOf(starts: number[], keyCount: number): Uint8Array {
  const keyMap = new Uint8Array(keyCount);
  for (let g = 0, key = 0; key < keyCount; key++) {
    if (g < starts.length && key === starts[g]) g++;
    keyMap[key] = g;
  }
  return keyMap;
}
