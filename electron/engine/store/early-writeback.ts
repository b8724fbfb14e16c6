import { close, fdatasync, open } from 'node:fs';

/**
 * Has the disk write a file's data while writing goes on: every `every` bytes written, an
 * fdatasync through a descriptor of its own, once the writes so far have landed. The
 * fdatasync that must wait (a segment's seal, a split client's FLUSH) then finds little
 * left to write: a seal held the capture writer's placement 85–150 ms per 64 MiB segment
 * here, and the FLUSH at the end of a 256 MiB split copy 190–320 ms. Errors are left to the
 * writer's own fdatasync: Linux tells each open file description of a writeback error once
 * (errseq), so this descriptor's fdatasync does not hide one from the writer's.
 */
export class EarlyWriteback {
  private running = false;
  private file = -1;
  private last = 0;

  constructor(private readonly every: number) {}

  /**
   * Writes up to `end` (a count of bytes that only grows, per file) of file `id` at `path`
   * are on their way (`writes`; none when they have all landed); a new `id` starts counting again.
   */
  written(id: number, path: string, end: number, writes: Array<Promise<unknown>> = []): void {
    if (id !== this.file) {
      this.file = id;
      this.last = 0;
    }
    if (this.running || end - this.last < this.every) return;
    this.running = true;
    this.last = end;
    void Promise.allSettled(writes)
      .then(() => syncFile(path))
      .finally(() => (this.running = false));
  }
}

/** fdatasync of `path` through a descriptor of its own; never fails (see EarlyWriteback). */
function syncFile(path: string): Promise<void> {
  return new Promise((resolve) =>
    open(path, 'r', (err, fd) => {
      if (err) return resolve();
      fdatasync(fd, () => close(fd, () => resolve()));
    }),
  );
}
