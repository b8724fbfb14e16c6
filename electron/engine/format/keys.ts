import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { ChronodiskError } from '../errors.js';

/**
 * Encryption keys. A random 256-bit data key encrypts every record; it is stored in the
 * appliance header wrapped (AES-256-GCM) by a key-encryption key derived from the
 * passphrase with scrypt, so changing the passphrase rewrites only the header.
 */
export interface KdfParams {
  name: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string; // base64
}

export interface WrappedKey {
  kdf: KdfParams;
  /** base64 of nonce(12) ‖ ciphertext(32) ‖ tag(16) */
  wrapped: string;
}

/** scrypt N=2^15, r=8, p=1: 32 MiB and about 100 ms here — a brute force pays that per guess. */
const DEFAULT_KDF = { N: 1 << 15, r: 8, p: 1 };
const WRAP_AAD = Buffer.from('chronodisk data key v1');

export function newDataKey(): Buffer {
  return randomBytes(32);
}

function deriveKek(passphrase: string, kdf: KdfParams): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(passphrase.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function wrapDataKey(dataKey: Buffer, passphrase: string): Promise<WrappedKey> {
  const kdf: KdfParams = { name: 'scrypt', ...DEFAULT_KDF, salt: randomBytes(16).toString('base64') };
  const kek = await deriveKek(passphrase, kdf);
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, nonce);
  c.setAAD(WRAP_AAD);
  const body = Buffer.concat([c.update(dataKey), c.final()]);
  return { kdf, wrapped: Buffer.concat([nonce, body, c.getAuthTag()]).toString('base64') };
}

export async function unwrapDataKey(w: WrappedKey, passphrase: string): Promise<Buffer> {
  const kek = await deriveKek(passphrase, w.kdf);
  const blob = Buffer.from(w.wrapped, 'base64');
  const d = createDecipheriv('aes-256-gcm', kek, blob.subarray(0, 12));
  d.setAAD(WRAP_AAD);
  d.setAuthTag(blob.subarray(blob.length - 16));
  try {
    return Buffer.concat([d.update(blob.subarray(12, blob.length - 16)), d.final()]);
  } catch {
    throw new ChronodiskError('auth', 'wrong passphrase for this appliance; try again or use the right --key-file');
  }
}
