import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { xxh64 } from '@node-rs/xxhash';

const MAGIC = Buffer.from('CDHASH01', 'latin1');
const HEAD = 32;

/**
 * The hash of every block of a disk as the appliance holds it at one point: what a scan
 * pass compares the source against. A cache (cache/scan-<disk>.hashes) valid only for the
 * point it names; when it is missing or older, the hashes are recomputed from the image.
 *
 * File: "CDHASH01" · u64 seq · u32 blockSize · u32 count · 8 reserved · count × u64 · u64 xxh64 of all before.
 */
export class BlockHashes {
  constructor(
    readonly seq: number,
    readonly blockSize: number,
    readonly hashes: BigUint64Array,
  ) {}

  static path(dir: string, diskId: number): string {
    return join(dir, 'cache', `scan-${diskId}.hashes`);
  }

  static load(dir: string, diskId: number, blockSize: number, count: number): BlockHashes | undefined {
    let b: Buffer;
    try {
      b = readFileSync(BlockHashes.path(dir, diskId));
    } catch {
      return undefined;
    }
    if (b.length !== HEAD + count * 8 + 8 || !b.subarray(0, 8).equals(MAGIC)) return undefined;
    if (b.readUInt32LE(16) !== blockSize || b.readUInt32LE(20) !== count) return undefined;
    if (b.readBigUInt64LE(b.length - 8) !== xxh64(b.subarray(0, b.length - 8))) return undefined;
    const hashes = new BigUint64Array(count);
    Buffer.from(hashes.buffer).set(b.subarray(HEAD, HEAD + count * 8));
    return new BlockHashes(Number(b.readBigUInt64LE(8)), blockSize, hashes);
  }

  save(dir: string, diskId: number): void {
    const body = Buffer.from(this.hashes.buffer, this.hashes.byteOffset, this.hashes.byteLength);
    const head = Buffer.alloc(HEAD);
    MAGIC.copy(head);
    head.writeBigUInt64LE(BigInt(this.seq), 8);
    head.writeUInt32LE(this.blockSize, 16);
    head.writeUInt32LE(this.hashes.length, 20);
    const all = Buffer.concat([head, body, Buffer.alloc(8)]);
    all.writeBigUInt64LE(xxh64(all.subarray(0, all.length - 8)), all.length - 8);
    const path = BlockHashes.path(dir, diskId);
    mkdirSync(join(dir, 'cache'), { recursive: true });
    // Renamed into place: a crash leaves the old file or the new one, and load() checks both.
    writeFileSync(`${path}.tmp`, all);
    renameSync(`${path}.tmp`, path);
  }
}
