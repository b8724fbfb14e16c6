import { createCipheriv } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { MiB, prng, textPool } from './measure.js';

/**
 * The capture bench's test image, the same bytes on every run and every machine: 4 MiB
 * pieces, 40% random, 30% zeros, 30% text or binary-like data. Random pieces are unique
 * (an AES-CTR keystream, so deterministic) and text/binary pieces are shuffles of 16 KiB
 * runs of a pool: the deduplicating tools (restic, borg) find no repeated chunk to skip,
 * as on a real disk, and zstd shrinks text and binaries as it would real ones.
 */
const PIECE = 4 * MiB;
const RUN = 16 * 1024;

/** `length` deterministic random bytes, different for each `stream` number. */
function keystream(stream: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(stream, 0);
  return createCipheriv('aes-256-ctr', Buffer.alloc(32, 42), iv).update(Buffer.alloc(length));
}

/** Machine-code and database-like bytes: small integers, zero words, some random words. */
function binaryPool(length: number): Buffer {
  const rand = prng(11);
  const b = Buffer.alloc(length);
  for (let at = 0; at + 4 <= length; at += 4) {
    const r = rand();
    if (r < 0.45) b.writeUInt32LE(Math.floor(rand() * 256), at);
    else if (r < 0.7) b.writeUInt32LE((0x400000 + Math.floor(rand() * 65536) * 16) >>> 0, at);
    else if (r < 0.8) b.writeUInt32LE(Math.floor(rand() * 2 ** 32) >>> 0, at);
  }
  return b;
}

/** A piece made of 16 KiB runs taken from random places of `pool`. */
function shuffled(pool: Buffer, rand: () => number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let at = 0; at < length; at += RUN) {
    const from = Math.floor(rand() * (pool.length / RUN - 1)) * RUN;
    pool.copy(out, at, from, from + Math.min(RUN, length - at));
  }
  return out;
}

export function makeImage(path: string, size: number): void {
  const rand = prng(42);
  const text = textPool(8 * MiB, 7);
  const binary = binaryPool(8 * MiB);
  const zeros = Buffer.alloc(PIECE);
  const fd = openSync(path, 'w');
  try {
    for (let at = 0, i = 0; at < size; at += PIECE, i++) {
      const r = rand();
      const n = Math.min(PIECE, size - at);
      const piece = r < 0.4 ? keystream(i, n) : r < 0.7 ? zeros.subarray(0, n) : shuffled(r < 0.85 ? text : binary, rand, n);
      writeSync(fd, piece, 0, n, at);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Overwrites `fraction` of the 64 KiB blocks with new random bytes; returns what puts them back. */
export function changeBlocks(path: string, size: number, fraction: number): () => void {
  const rand = prng(99);
  const block = 64 * 1024;
  const blocks = Math.floor(size / block);
  const saved: Array<[number, Buffer]> = [];
  const fd = openSync(path, 'r+');
  try {
    for (let i = 0; i < blocks * fraction; i++) {
      const at = Math.floor(rand() * blocks) * block;
      const old = Buffer.alloc(block);
      readSync(fd, old, 0, block, at);
      saved.push([at, old]);
      writeSync(fd, keystream(1_000_000 + i, block), 0, block, at);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return () => {
    const back = openSync(path, 'r+');
    try {
      // In reverse: a block drawn twice gets its original content last.
      for (const [at, old] of saved.reverse()) writeSync(back, old, 0, block, at);
      fsyncSync(back);
    } finally {
      closeSync(back);
    }
  };
}
