// Units used across the contract. Plain numbers at runtime; the aliases document intent.
// Sequence numbers and µs times stay below 2^53, so `number` holds them exactly.

/** A count of bytes. */
export type Bytes = number;
/** A global, strictly increasing sequence number of the appliance. */
export type Seq = number;
/** Microseconds since the Unix epoch, UTC. */
export type Micros = number;

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

const byteUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** "1.5 GiB", "512 B". */
export function formatBytes(n: Bytes): string {
  if (!Number.isFinite(n)) return String(n);
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < byteUnits.length - 1) {
    v /= 1024;
    i++;
  }
  const text = i === 0 ? String(v) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${n < 0 ? '-' : ''}${text} ${byteUnits[i]}`;
}

/** "1 segment", "3 segments": a count with its noun (`plural` for nouns that do not just add an s). */
export function formatCount(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/** "120 MB/s" style rate, from bytes and seconds. */
export function formatRate(bytes: Bytes, seconds: number): string {
  if (seconds <= 0) return '–';
  return `${formatBytes(bytes / seconds)}/s`;
}

/** Parses "64K", "4KiB", "1M", "1048576" into bytes; undefined when malformed. */
export function parseSize(text: string): Bytes | undefined {
  const m = /^(\d+)\s*([KMGT]?)(i?B)?$/i.exec(text.trim());
  if (!m) return undefined;
  const scale: Record<string, number> = { '': 1, K: KiB, M: MiB, G: GiB, T: TiB };
  return Number(m[1]) * scale[m[2]!.toUpperCase()]!;
}
