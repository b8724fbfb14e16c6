/** Retention durations as the settings page shows and reads them ("7d", "30d", "forever"). Pure. */
import { parseDurationMicros } from '../../../shared/time.js';

const units: Array<[string, number]> = [
  ['y', 365 * 86400e6],
  ['w', 7 * 86400e6],
  ['d', 86400e6],
  ['h', 3600e6],
  ['m', 60e6],
  ['s', 1e6],
];

/** The shortest exact duration text for µs: 604800000000 → "1w", 90 min → "90m". */
export function formatDuration(us: number): string {
  for (const [unit, size] of units) if (us >= size && us % size === 0) return `${us / size}${unit}`;
  return `${Math.round(us / 1e6)}s`;
}

/** Reads a duration; `allowForever` accepts "forever" (null) for the weekly tier. */
export function parseRetentionText(text: string, allowForever: boolean): number | null | undefined {
  const t = text.trim().toLowerCase();
  if (allowForever && (t === 'forever' || t === '')) return null;
  return parseDurationMicros(t);
}
