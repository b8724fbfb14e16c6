import { read, write, writeSync, writev, writevSync } from 'node:fs';

/** Reads `into.length` bytes at `pos` (asynchronously, in as many reads as it takes); past EOF reads as zeroes. */
export function preadFully(fd: number, into: Buffer, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = 0;
    const next = (): void =>
      read(fd, into, done, into.length - done, pos + done, (err, n) => {
        if (err) return reject(err);
        done += n;
        if (n === 0) into.fill(0, done);
        if (n === 0 || done === into.length) resolve();
        else next();
      });
    next();
  });
}

/** Writes all of `data` at `pos`, in as many writes as it takes. */
export function pwriteFully(fd: number, data: Buffer, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = 0;
    const next = (): void =>
      write(fd, data, done, data.length - done, pos + done, (err, n) => {
        if (err) return reject(err);
        // write(2) returning 0 for a non-empty buffer makes no progress: retrying would spin.
        if (n === 0) return reject(zeroWrite(pos + done));
        done += n;
        if (done === data.length) resolve();
        else next();
      });
    next();
  });
}

/** The error for a write that made no progress: treated like a full device. */
export function zeroWrite(position: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: a write at byte ${position} made no progress`), { code: 'ENOSPC', syscall: 'write' });
}

/** pwritev takes at most IOV_MAX (1024) buffers: longer lists go in groups. */
const IOV_GROUP = 1000;

/** Writes every buffer at `position` on, back to back, with pwritev on the libuv pool. */
export async function pwritevFully(fd: number, bufs: Buffer[], position: number): Promise<void> {
  for (let i = 0; i < bufs.length; i += IOV_GROUP) {
    const group = bufs.slice(i, i + IOV_GROUP);
    const want = group.reduce((n, b) => n + b.length, 0);
    const n = await new Promise<number>((resolve, reject) => writev(fd, group, position, (err, written) => (err ? reject(err) : resolve(written))));
    if (n < want) writeFullySync(fd, Buffer.concat(group).subarray(n), position + n);
    position += want;
  }
}

/** pwritevFully() on the calling thread; returns the bytes written (all of them). */
export function pwritevFullySync(fd: number, bufs: Buffer[], position: number): number {
  let written = 0;
  for (let i = 0; i < bufs.length; i += IOV_GROUP) {
    const group = bufs.slice(i, i + IOV_GROUP);
    const want = group.reduce((n, b) => n + b.length, 0);
    let n = writevSync(fd, group, position + written);
    if (n < want) n += writeFullySync(fd, Buffer.concat(group).subarray(n), position + written + n);
    written += n;
  }
  return written;
}

/** Writes all of `buf` at `position` on the calling thread (a short pwritev's rest). */
function writeFullySync(fd: number, buf: Buffer, position: number): number {
  let done = 0;
  while (done < buf.length) {
    const n = writeSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw zeroWrite(position + done);
    done += n;
  }
  return done;
}
