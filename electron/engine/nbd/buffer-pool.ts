/**
 * Reusable buffers for READ replies and WRITE payloads. Fresh large buffers cost page faults
 * on every request (most of the server's CPU at 256 KiB requests); recycling them once the
 * socket or the export is done with them keeps the hot path to the two unavoidable copies.
 */

const MIN_POOLED = 64 * 1024;
/** Each bucket holds a power of two plus this much, so a READ reply's header fits before its data. */
export const HEADROOM = 64;

export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;

  // nbdcopy keeps 4 × 64 × 256 KiB = 64 MiB in flight, plus what waits in socket buffers:
  // a cap at exactly that dropped buffers that the next requests allocated afresh.
  constructor(private readonly maxFreeBytes = 128 * 1024 * 1024) {}

  /** A buffer of exactly n bytes with unspecified contents. Give it back with give(). */
  take(n: number): Buffer {
    if (n < MIN_POOLED) return Buffer.allocUnsafe(n);
    const size = bucket(n);
    const b = this.free.get(size)?.pop();
    if (b) {
      this.freeBytes -= size;
      return b.subarray(0, n);
    }
    return Buffer.allocUnsafeSlow(size).subarray(0, n);
  }

  /** Returns a buffer from take(); the caller must not touch it afterwards. */
  give(b: Buffer): void {
    const size = b.buffer.byteLength;
    if (b.length < MIN_POOLED || b.byteOffset !== 0 || size !== bucket(size)) return;
    if (this.freeBytes + size > this.maxFreeBytes) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(Buffer.from(b.buffer, 0, size));
    this.freeBytes += size;
  }
}

function bucket(n: number): number {
  return n - HEADROOM <= MIN_POOLED ? MIN_POOLED + HEADROOM : 2 ** Math.ceil(Math.log2(n - HEADROOM)) + HEADROOM;
}

/** One pool per process: every server and connection draws from it. */
export const sharedPool = new BufferPool();
