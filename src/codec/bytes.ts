/**
 * Byte and word I/O shared by the coders: little-endian word views of byte buffers, and a byte
 * writer and reader for stream headers (varints, u32).
 */

/** Streams and files store words little-endian; views read them as such only on a little-endian host. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The little-endian u16 words of `bytes`: a view when aligned on a little-endian host, else a copy. */
export const words16 = (bytes: Uint8Array): Uint16Array => wordsOf(bytes, Uint16Array, swap16);

/** The little-endian 32-bit words of `bytes` as int32: a view when aligned on a little-endian host, else a copy. */
export const words32 = (bytes: Uint8Array): Int32Array => wordsOf(bytes, Int32Array, swap32);

interface WordArray<T> {
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

function wordsOf<T extends Uint16Array | Int32Array>(bytes: Uint8Array, Words: WordArray<T>, swap: (words: T) => void): T {
  const width = Words.BYTES_PER_ELEMENT;
  const count = Math.floor(bytes.length / width);
  if (LITTLE_ENDIAN && bytes.byteOffset % width === 0) return new Words(bytes.buffer, bytes.byteOffset, count);
  const words = new Words(count);
  new Uint8Array(words.buffer).set(bytes.subarray(0, count * width));
  if (!LITTLE_ENDIAN) swap(words);
  return words;
}

/** The bytes of the first `count` words (a view, in host order). */
export function bytesOf(words: Uint16Array | Int32Array, count = words.length): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, words.BYTES_PER_ELEMENT * count);
}

/** The words as little-endian bytes: a view on a little-endian host, else a swapped copy. */
export function littleEndianBytes(words: Uint16Array | Int32Array): Uint8Array {
  if (LITTLE_ENDIAN) return bytesOf(words);
  const copy = words.slice();
  if (copy instanceof Uint16Array) swap16(copy);
  else swap32(copy);
  return bytesOf(copy);
}

/** Writes words from words16/words32 back into their bytes, unless they are a view of them. */
export function storeWords(words: Uint16Array | Int32Array, bytes: Uint8Array): void {
  if (words.buffer === bytes.buffer && words.byteOffset === bytes.byteOffset) return;
  bytes.set(littleEndianBytes(words));
}

/** Byte-swaps 16-bit words in place (only on big-endian hosts). */
export function swap16(words: Uint16Array): void {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    words[i] = ((w & 0xff) << 8) | (w >>> 8);
  }
}

function swap32(words: Int32Array): void {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    words[i] = ((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24);
  }
}

/** Writes into a buffer of fixed capacity (the caller sizes it for the worst case). */
export class ByteWriter {
  buf: Uint8Array;
  pos = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }
  byte(v: number): void {
    this.buf[this.pos++] = v;
  }
  /** LEB128, for any safe integer ≥ 0. */
  varint(v: number): void {
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.buf[this.pos++] = v & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = v >>> 24;
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

/** Reads what ByteWriter wrote; errors name the stream's kind (`what`). */
export class ByteReader {
  pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error(`${this.what}: stream is truncated`);
  }
  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  /** At most 8 bytes (56 bits), so the value stays a safe integer. */
  varint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (i >= 8) throw new Error(`${this.what}: invalid varint`);
      const b = this.byte();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
  }
  u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }
  take(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}
