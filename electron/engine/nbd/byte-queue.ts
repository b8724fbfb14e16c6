/**
 * Bytes received but not yet parsed. Chunks are kept as they arrived; take() hands back a
 * view without copying when the bytes sit in one chunk (the common case for headers and
 * for write payloads that arrived whole), and copies once otherwise.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0; // offset into chunks[0]
  private first = 0; // index of the first live chunk
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Removes and returns exactly n bytes; the caller has checked `length >= n`. */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const c = this.chunks[this.first];
    if (c.length - this.head >= n) {
      const out = c.subarray(this.head, this.head + n);
      this.advance(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      const cur = this.chunks[this.first];
      const k = Math.min(n - done, cur.length - this.head);
      cur.copy(out, done, this.head, this.head + k);
      done += k;
      this.advance(k);
    }
    return out;
  }

  /** Removes into.length bytes into `into`; the caller has checked `length >= into.length`. */
  takeInto(into: Buffer): void {
    let done = 0;
    while (done < into.length) {
      const cur = this.chunks[this.first];
      const k = Math.min(into.length - done, cur.length - this.head);
      cur.copy(into, done, this.head, this.head + k);
      done += k;
      this.advance(k);
    }
  }

  /** Removes n bytes as views of the received chunks (no copy); the caller has checked `length >= n`. */
  takeChunks(n: number): Buffer[] {
    const out: Buffer[] = [];
    let done = 0;
    while (done < n) {
      const cur = this.chunks[this.first];
      const k = Math.min(n - done, cur.length - this.head);
      out.push(cur.subarray(this.head, this.head + k));
      done += k;
      this.advance(k);
    }
    return out;
  }

  /** True when the next n bytes sit in one received chunk (take() would not copy). */
  contiguous(n: number): boolean {
    return n === 0 || (this.length > 0 && this.chunks[this.first].length - this.head >= n);
  }

  /** Drops up to n bytes; returns how many were dropped. */
  skip(n: number): number {
    let dropped = 0;
    while (dropped < n && this.length > 0) {
      const cur = this.chunks[this.first];
      const k = Math.min(n - dropped, cur.length - this.head);
      this.advance(k);
      dropped += k;
    }
    return dropped;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.first = 0;
    this.length = 0;
  }

  private advance(k: number): void {
    this.head += k;
    this.length -= k;
    if (this.head === this.chunks[this.first].length) {
      this.head = 0;
      this.first++;
      // Compact now and then so the array does not grow without bound.
      if (this.first > 64 && this.first * 2 > this.chunks.length) {
        this.chunks = this.chunks.slice(this.first);
        this.first = 0;
      }
      if (this.first === this.chunks.length) {
        this.chunks = [];
        this.first = 0;
      }
    }
  }
}
