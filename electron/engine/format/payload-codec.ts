import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import zstd from 'zstd-napi/binding.js';
import { RecordFlag } from './constants.js';
import { ChronodiskError } from '../errors.js';

const NONCE = 12;
const TAG = 16;
const ZERO_PROBE = Buffer.alloc(64 * 1024);
const SEAL_PIECE = 16 * 1024;
/** The hurried settings: level 1 with a 4 K-entry hash table and matches of 7 bytes or more (FORMAT.md §4.3). */
const HURRIED_HASH_LOG = 12;
const HURRIED_MIN_MATCH = 7;

/**
 * Turns logical bytes into the stored payload of a record and back: zero detection,
 * zstd level 1 (higher levels cost far more time than they save space on disk blocks;
 * faster settings while `hurried`), raw storage of what does not compress, then
 * AES-256-GCM when the appliance is encrypted. The record header is the GCM's associated
 * data, so a header cannot be moved onto another payload unnoticed.
 */
export class PayloadCodec {
  /** Raw zstd contexts: they compress and decompress into buffers we give. */
  private cctx = new zstd.CCtx();
  /** Level 1 with a smaller hash table and longer minimum matches: faster, stores a little more (see `hurried`). */
  private hurriedCctx = new zstd.CCtx();
  private dctx = new zstd.DCtx();
  /**
   * Set while the records to pack come faster than the encoders keep up with (requests
   * queue for every thread): packInto() compresses with the faster settings until it is
   * cleared. FORMAT.md §4.3 has the measurements; a reader cannot tell the difference.
   */
  hurried = false;
  /** Whether the last record packed was stored raw (see packInto). */
  private lastRaw = false;
  /** Random nonces not used yet (see nextNonce). */
  private nonces = Buffer.alloc(0);
  private noncePos = 0;

  constructor(readonly key: Buffer | undefined) {
    this.cctx.setParameter(zstd.CParameter.compressionLevel, 1);
    this.hurriedCctx.setParameter(zstd.CParameter.compressionLevel, 1);
    this.hurriedCctx.setParameter(zstd.CParameter.hashLog, HURRIED_HASH_LOG);
    this.hurriedCctx.setParameter(zstd.CParameter.minMatch, HURRIED_MIN_MATCH);
  }

  get encrypted(): boolean {
    return this.key !== undefined;
  }

  /** Payload size an encoded record will need for `storedPlain` bytes before encryption. */
  encryptedSize(plainLength: number): number {
    return this.key ? plainLength + NONCE + TAG : plainLength;
  }

  /** The most bytes packInto() and sealInto() can need for `length` logical bytes. */
  maxStoredSize(length: number): number {
    return zstd.compressBound(length) + NONCE + TAG;
  }

  /**
   * Picks zero / zstd / raw for `data` and writes the plain (pre-encryption) payload into
   * `dst` (room for maxStoredSize), compressing straight into it: no intermediate buffers.
   * With `copyRaw` false a raw payload is not copied (`data` itself is the payload then:
   * flags without Zstd or Zero).
   */
  packInto(data: Buffer, dst: Buffer, copyRaw = true): { length: number; flags: number } {
    if (isAllZero(data)) return { length: 0, flags: RecordFlag.Zero };
    const cctx = this.hurried ? this.hurriedCctx : this.cctx;
    // Incompressible data costs a full compression for nothing: after a record that did
    // not compress, a 4 KiB probe decides first (runs of random data stay cheap).
    if (this.lastRaw && data.length > 8192) {
      const probe = cctx.compress2(dst, data.subarray(0, 4096));
      if (probe > 4096 * 0.97) return this.raw(data, dst, copyRaw);
    }
    const n = cctx.compress2(dst, data);
    if (n >= data.length * 0.95) return this.raw(data, dst, copyRaw);
    this.lastRaw = false;
    return { length: n, flags: RecordFlag.Zstd };
  }

  private raw(data: Buffer, dst: Buffer, copy: boolean): { length: number; flags: number } {
    this.lastRaw = true;
    if (copy) data.copy(dst);
    return { length: data.length, flags: 0 };
  }

  /** Encrypts the plain payload with the header as associated data (no-op when plain). */
  seal(plain: Buffer, aad: Buffer): Buffer {
    if (!this.key) return plain;
    const out = Buffer.allocUnsafe(plain.length + NONCE + TAG);
    this.sealInto(plain, aad, out);
    return out;
  }

  /** seal() into `dst` (which may not overlap `plain`): nonce ‖ ciphertext ‖ GCM tag. */
  sealInto(plain: Buffer, aad: Buffer, dst: Buffer): number {
    const nonce = this.nextNonce();
    nonce.copy(dst);
    const c = createCipheriv('aes-256-gcm', this.key!, nonce);
    c.setAAD(aad);
    // In pieces: update() allocates its output, and a 64 KiB one cost twice the CPU of
    // four 16 KiB ones here (measured per record: 62–74 µs against 31–34 µs).
    let at = NONCE;
    for (let off = 0; off < plain.length; off += SEAL_PIECE) at += c.update(plain.subarray(off, off + SEAL_PIECE)).copy(dst, at);
    at += c.final().copy(dst, at);
    return at + c.getAuthTag().copy(dst, at);
  }

  /**
   * A fresh random nonce. Drawn from the CSPRNG 1024 at a time: one getrandom call per
   * record cost more than a tenth of an encrypted record's encoding here.
   */
  private nextNonce(): Buffer {
    if (this.noncePos >= this.nonces.length) {
      this.nonces = randomBytes(NONCE * 1024);
      this.noncePos = 0;
    }
    const nonce = this.nonces.subarray(this.noncePos, this.noncePos + NONCE);
    this.noncePos += NONCE;
    return nonce;
  }

  /** Reverses seal(): decrypts and authenticates, or throws 'auth'/'damaged'. */
  open(stored: Buffer, aad: Buffer, where: () => string): Buffer {
    if (!this.key) throw new ChronodiskError('auth', `${where()} is encrypted; give the passphrase (CHRONODISK_PASSPHRASE or --key-file)`);
    if (stored.length < NONCE + TAG) throw new ChronodiskError('damaged', `${where()}: encrypted payload too short`, { remedy: 'verify' });
    const d = createDecipheriv('aes-256-gcm', this.key, stored.subarray(0, NONCE));
    d.setAAD(aad);
    d.setAuthTag(stored.subarray(stored.length - TAG));
    try {
      const body = d.update(stored.subarray(NONCE, stored.length - TAG));
      const tail = d.final(); // GCM has no block padding: empty, so no concat copy
      return tail.length ? Buffer.concat([body, tail]) : body;
    } catch {
      throw new ChronodiskError('damaged', `${where()}: authentication failed (damaged data or wrong key)`, { remedy: 'verify' });
    }
  }

  /**
   * Reverses seal() and pack(): the logical bytes, or a 'damaged'/'auth' error. With `into`
   * (exactly `logicalLength` bytes) they are written there — zstd decompresses straight into
   * it, which spares an allocation and a copy per record on exports — and `into` is returned.
   * Without it, a raw payload comes back as a view of `stored`.
   */
  unpack(stored: Buffer, flags: number, logicalLength: number, aad: Buffer, where: () => string, into?: Buffer): Buffer {
    if (into && into.length !== logicalLength) throw new RangeError(`unpack into ${into.length} bytes of a ${logicalLength}-byte record`);
    if (flags & RecordFlag.Zero) return into ? into.fill(0) : Buffer.alloc(logicalLength);
    const plain = flags & RecordFlag.Encrypted ? this.open(stored, aad, where) : stored;
    if (!(flags & RecordFlag.Zstd)) {
      if (plain.length !== logicalLength) {
        throw new ChronodiskError('damaged', `${where()}: payload holds ${plain.length} bytes, header says ${logicalLength}`, { remedy: 'verify' });
      }
      return into ? (plain.copy(into), into) : plain;
    }
    // A frame whose content is larger than the destination fails to decompress; a smaller
    // one returns fewer bytes: either way the record is damaged, never half-used.
    const out = into ?? Buffer.allocUnsafe(logicalLength);
    let n: number;
    try {
      n = this.dctx.decompress(out, plain);
    } catch {
      throw new ChronodiskError('damaged', `${where()}: compressed payload does not decompress`, { remedy: 'verify' });
    }
    if (n !== logicalLength) {
      throw new ChronodiskError('damaged', `${where()}: payload holds ${n} bytes, header says ${logicalLength}`, { remedy: 'verify' });
    }
    return out;
  }
}

export function isAllZero(data: Buffer): boolean {
  for (let off = 0; off < data.length; off += ZERO_PROBE.length) {
    const n = Math.min(ZERO_PROBE.length, data.length - off);
    if (!data.subarray(off, off + n).equals(ZERO_PROBE.subarray(0, n))) return false;
  }
  return true;
}
