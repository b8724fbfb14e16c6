import { read, write } from 'node:fs';

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
