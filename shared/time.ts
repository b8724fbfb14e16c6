import type { Micros } from './units.js';

/** Now, in µs since the epoch (millisecond resolution is all Date offers). */
export function nowMicros(): Micros {
  return Date.now() * 1000;
}

/** ISO-8601 UTC with microseconds: 2026-11-25T10:00:00.123456Z. */
export function formatIsoMicros(us: Micros): string {
  const ms = Math.floor(us / 1000);
  const frac = us - ms * 1000;
  const base = new Date(ms).toISOString(); // ...ss.mmmZ
  return `${base.slice(0, -1)}${String(Math.floor(frac)).padStart(3, '0')}Z`;
}

const isoPattern =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses an ISO-8601 date or date-time into µs. A time without a zone is UTC, so the same
 * text means the same moment on every machine. Returns undefined when malformed.
 */
export function parseIsoMicros(text: string): Micros | undefined {
  const m = isoPattern.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}.000${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse accepts 2026-02-31; round-trip the calendar fields to refuse it.
  if (zone === 'Z') {
    const back = new Date(ms).toISOString();
    if (back.slice(0, 19) !== `${y}-${mo}-${d}T${h}:${mi}:${s}`) return undefined;
  }
  return ms * 1000 + Number(frac.padEnd(6, '0'));
}

const durationUnits: Record<string, number> = {
  s: 1e6,
  m: 60e6,
  h: 3600e6,
  d: 86400e6,
  w: 7 * 86400e6,
  y: 365 * 86400e6,
};

/** Parses "10m", "2h", "3d", "1y", "90s" into µs; undefined when malformed. */
export function parseDurationMicros(text: string): Micros | undefined {
  const m = /^(\d+(?:\.\d+)?)([smhdwy])$/.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * durationUnits[m[2]!]!);
}

/** "3 min", "1 h 20 min": for ETAs. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const min = Math.round(seconds / 60);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}
