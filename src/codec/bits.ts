/** Bit I/O (LSB first) for tables and other side information. */

/** Appends bits LSB first into a growing byte buffer. */
export class BitWriter {
  private buf = new Uint8Array(256);
  private pos = 0;
  private acc = 0;
  private bits = 0;

  /** Writes the low `n` bits of `value` (0 ≤ n ≤ 24). */
  write(value: number, n: number): void {
    this.acc |= (value & ((1 << n) - 1)) << this.bits;
    this.bits += n;
    while (this.bits >= 8) {
      if (this.pos === this.buf.length) this.grow();
      this.buf[this.pos++] = this.acc & 0xff;
      this.acc >>>= 8;
      this.bits -= 8;
    }
  }

  /** Elias-gamma code of value ≥ 0 (as value + 1): small numbers in few bits, any size up to 2^24 - 2. */
  writeGamma(value: number): void {
    const v = value + 1;
    const n = 31 - Math.clz32(v);
    this.write(0, n);
    this.write(1, 1);
    this.write(v, n);
  }

  /** The bytes written so far, the last byte zero-padded. */
  finish(): Uint8Array {
    if (this.bits > 0) this.write(0, 8 - this.bits);
    return this.buf.slice(0, this.pos);
  }

  private grow(): void {
    const next = new Uint8Array(this.buf.length * 2);
    next.set(this.buf);
    this.buf = next;
  }
}

/** Reads what BitWriter wrote; reading past the end throws. */
export class BitReader {
  private pos: number;
  private acc = 0;
  private bits = 0;

  constructor(
    private readonly bytes: Uint8Array,
    offset = 0,
    private readonly end = bytes.length,
  ) {
    this.pos = offset;
  }

  read(n: number): number {
    while (this.bits < n) {
      if (this.pos >= this.end) throw new Error('rans: side information is truncated');
      this.acc |= this.bytes[this.pos++]! << this.bits;
      this.bits += 8;
    }
    const v = this.acc & ((1 << n) - 1);
    this.acc >>>= n;
    this.bits -= n;
    return v;
  }

  readGamma(): number {
    let n = 0;
    while (this.read(1) === 0) {
      if (++n > 24) throw new Error('rans: invalid gamma code');
    }
    return ((1 << n) | this.read(n)) - 1;
  }

  /** Byte position after the last byte touched. */
  get offset(): number {
    return this.pos;
  }
}
