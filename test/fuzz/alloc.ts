/**
 * Counts the bytes of every typed array, ArrayBuffer and Buffer allocated by JavaScript code in
 * this process (once installed), so a case that allocates far more than its input justifies is
 * seen even when the memory is untouched (a zero-filled allocation does not grow the RSS) or freed
 * before the case ends. Views on existing memory (`new Uint8Array(buffer, offset, length)`,
 * `subarray`) are not allocations and are not counted. Node's internals keep their own references
 * to the constructors and are not counted; neither is native memory (see the RSS check).
 */
let allocated = 0;
let installed = false;

const TYPED = ['Uint8Array', 'Int8Array', 'Uint8ClampedArray', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array',
  'Float32Array', 'Float64Array', 'BigUint64Array', 'BigInt64Array'] as const;

function counting<T extends new (...args: never[]) => object>(ctor: T, bytesPerElement: number): T {
  const proxy: T = new Proxy(ctor, {
    construct(target, args: unknown[], newTarget) {
      const a = args[0];
      if (typeof a === 'number') allocated += a * bytesPerElement;
      else if (a !== null && typeof a === 'object' && !(a instanceof ArrayBuffer) && !(a instanceof SharedArrayBuffer)) {
        const length = (a as { length?: unknown }).length;
        if (typeof length === 'number') allocated += length * bytesPerElement;
      }
      return Reflect.construct(target, args, newTarget === proxy ? target : newTarget) as object;
    },
  });
  return proxy;
}

export function installAllocationCounter(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as unknown as Record<string, unknown>;
  for (const name of TYPED) {
    const ctor = g[name] as (new (...args: never[]) => object) & { BYTES_PER_ELEMENT: number };
    g[name] = counting(ctor, ctor.BYTES_PER_ELEMENT);
  }
  g.ArrayBuffer = counting(ArrayBuffer, 1);
  const B = Buffer as unknown as Record<string, (...args: never[]) => Buffer>;
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    const original = B[name]!.bind(Buffer);
    B[name] = ((size: number, ...rest: never[]) => {
      allocated += size;
      return (original as (...args: unknown[]) => Buffer)(size, ...rest);
    }) as never;
  }
  const concat = Buffer.concat.bind(Buffer);
  Buffer.concat = ((list: readonly Uint8Array[], totalLength?: number) => {
    allocated += totalLength ?? list.reduce((n, b) => n + b.length, 0);
    return concat(list, totalLength);
  }) as typeof Buffer.concat;
}

/** Bytes allocated since the last reset. */
export function allocatedBytes(): number {
  return allocated;
}

export function resetAllocated(): void {
  allocated = 0;
}
