/**
 * Task messages name shared buffers by number: each SharedArrayBuffer goes to a worker once, and
 * later messages carry only its number and the view's offset and length: posting the buffers
 * themselves made new SharedArrayBuffer objects in the receiving thread for every message
 * (docs/DESIGN.md, "Workers").
 */
interface SharedViewRef {
  sharedView: number;
  buffer?: SharedArrayBuffer;
  offset: number;
  length: number;
}

const isViewRef = (value: object): value is SharedViewRef => 'sharedView' in value;

/** The main thread's side: numbers its shared buffers and remembers which worker has which. */
export class SharedViewSender {
  private readonly numbers = new WeakMap<SharedArrayBuffer, number>();
  private readonly sent: Set<number>[];
  private nextNumber = 0;

  constructor(workers: number) {
    this.sent = Array.from({ length: workers }, () => new Set<number>());
  }

  /** `value` with every view of shared memory in it replaced by a reference (other views are copied). */
  pack(value: unknown, worker: number): unknown {
    if (value instanceof Uint8Array) {
      if (!(value.buffer instanceof SharedArrayBuffer)) return value;
      let number = this.numbers.get(value.buffer);
      if (number === undefined) this.numbers.set(value.buffer, (number = this.nextNumber++));
      const first = !this.sent[worker]!.has(number);
      if (first) this.sent[worker]!.add(number);
      return { sharedView: number, offset: value.byteOffset, length: value.length, ...(first ? { buffer: value.buffer } : {}) };
    }
    if (value === null || typeof value !== 'object') return value;
    // Objects without shared views (a chunk's records) go as they are: copying every one cost more than the message.
    let packed: unknown[] | Record<string, unknown> | undefined;
    const entries = value as Record<string, unknown>;
    for (const key in entries) {
      const item = entries[key];
      const itemPacked = this.pack(item, worker);
      if (itemPacked !== item) packed ??= Array.isArray(value) ? [...value] : { ...entries };
      if (packed) (packed as Record<string, unknown>)[key] = itemPacked;
    }
    return packed ?? value;
  }
}

/** A worker's side: the shared buffers it has been given, by number. */
export class SharedViewReceiver {
  private readonly buffers = new Map<number, SharedArrayBuffer>();

  unpack(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.unpack(item));
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
    if (isViewRef(value)) {
      if (value.buffer) this.buffers.set(value.sharedView, value.buffer);
      const buffer = this.buffers.get(value.sharedView);
      if (!buffer) throw new Error(`shared buffer ${value.sharedView} was never sent`);
      return new Uint8Array(buffer, value.offset, value.length);
    }
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.unpack(item)]));
  }
}
