import { parseDurationMicros, parseIsoMicros } from './time.js';
import type { Micros, Seq } from './units.js';

/**
 * A point as a person names it, before the appliance resolves it to a commit:
 *   1234                   a sequence number
 *   2026-11-25T10:00:00Z   the last point at or before that time
 *   -10m, -2h, -3d         the last point at or before that long ago
 *   @before upgrade        a bookmark (exact label)
 *   now                    the latest point
 */
export type PointSpec =
  | { kind: 'seq'; seq: Seq }
  | { kind: 'time'; time: Micros }
  | { kind: 'ago'; micros: Micros }
  | { kind: 'bookmark'; label: string }
  | { kind: 'now' };

/** The same forms, in a few words: the help text of every --at option. */
export const POINT_SYNTAX = 'a seq, an ISO time, -10m/-2h/-3d, @bookmark or now';

export class PointSyntaxError extends Error {
  constructor(readonly text: string) {
    super(
      `"${text}" is not a point: use a sequence number (1234), an ISO time (2026-11-25T10:00:00Z), ` +
        `a relative time (-10m, -2h, -3d), a bookmark (@label) or now`,
    );
    this.name = 'PointSyntaxError';
  }
}

export function parsePointSpec(text: string): PointSpec {
  const t = text.trim();
  if (t === 'now') return { kind: 'now' };
  if (/^\d+$/.test(t)) {
    const seq = Number(t);
    if (!Number.isSafeInteger(seq)) throw new PointSyntaxError(text);
    return { kind: 'seq', seq };
  }
  if (t.startsWith('@')) {
    const label = text.slice(text.indexOf('@') + 1);
    if (label.trim() === '') throw new PointSyntaxError(text);
    return { kind: 'bookmark', label };
  }
  if (t.startsWith('-')) {
    const micros = parseDurationMicros(t.slice(1));
    if (micros === undefined || micros <= 0) throw new PointSyntaxError(text);
    return { kind: 'ago', micros };
  }
  const time = parseIsoMicros(t);
  if (time !== undefined) return { kind: 'time', time };
  throw new PointSyntaxError(text);
}

export function formatPointSpec(spec: PointSpec): string {
  switch (spec.kind) {
    case 'seq':
      return String(spec.seq);
    case 'now':
      return 'now';
    case 'bookmark':
      return `@${spec.label}`;
    case 'ago':
      return `-${Math.round(spec.micros / 1e6)}s`;
    case 'time':
      return new Date(spec.time / 1000).toISOString();
  }
}
