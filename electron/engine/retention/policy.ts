import { ChronodiskError } from '../errors.js';

/**
 * How long each level of history is kept, in µs (Infinity = forever, 0 = not at all):
 * every point for `keepAll`, then the last point of each hour up to `hourly`, of each day
 * up to `daily`, of each week up to `weekly`. Ages are measured from now, like Time
 * Machine's. Bookmarked points and each disk's latest point are always kept.
 */
export interface RetentionPolicy {
  keepAll: number;
  hourly: number;
  daily: number;
  weekly: number;
}

const HOUR = 3600e6;
const DAY = 24 * HOUR;

export const defaultPolicy: RetentionPolicy = { keepAll: DAY, hourly: 30 * DAY, daily: 365 * DAY, weekly: Infinity };

const units: Record<string, number> = { s: 1e6, m: 60e6, h: HOUR, d: DAY, w: 7 * DAY, y: 365 * DAY };

/**
 * Refuses a policy with a level that keeps nothing by mistake: each level (but one of 0,
 * "none") keeps points older than the levels before it, so it must reach further than
 * they do — "every point for 30d, then hourly up to 1d" would never keep an hourly point.
 */
export function checkPolicy(p: RetentionPolicy): void {
  const levels = [
    ['every point', p.keepAll],
    ['hourly', p.hourly],
    ['daily', p.daily],
    ['weekly', p.weekly],
  ] as const;
  let reach: readonly [string, number] | undefined;
  for (const level of levels) {
    if (!(level[1] >= 0)) throw new ChronodiskError('usage', `retention ${level[0]} of ${level[1]} is not a duration: give 0 or more`);
    if (level[1] === 0) continue;
    if (reach && level[1] <= reach[1]) {
      throw new ChronodiskError(
        'usage',
        `retention ${level[0]} up to ${formatRetentionDuration(level[1])} ends before ${reach[0]} (${formatRetentionDuration(reach[1])}) does, so it would keep nothing; make it longer, or 0 for none`,
      );
    }
    reach = level;
  }
}

/** "24h", "30d", "1y", "0", "inf" → µs. */
export function parseRetentionDuration(text: string, option: string): number {
  const t = text.trim();
  if (t === 'inf' || t === 'forever') return Infinity;
  if (t === '0') return 0;
  const m = /^(\d+(?:\.\d+)?)([smhdwy])$/.exec(t);
  if (!m) throw new ChronodiskError('usage', `${option} ${text} is not a duration: use a number with s, m, h, d, w or y (e.g. 30d), 0 for none, or inf`);
  return Number(m[1]) * units[m[2]!]!;
}

export function formatRetentionDuration(us: number): string {
  if (us === Infinity) return 'inf';
  if (us === 0) return '0';
  for (const [u, n] of [['y', units.y!], ['w', units.w!], ['d', DAY], ['h', HOUR], ['m', 60e6]] as const) if (us % n === 0) return `${us / n}${u}`;
  return `${us / 1e6}s`;
}

/** The JSON form stored in the catalog setting `retention:<diskId>` (Infinity as null). */
export function policyToJson(p: RetentionPolicy): Record<string, number | null> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v === Infinity ? null : v]));
}

export function policyFromJson(v: unknown): RetentionPolicy {
  if (!v || typeof v !== 'object') return defaultPolicy;
  const o = v as Record<string, number | null>;
  const f = (k: keyof RetentionPolicy) => (o[k] === null ? Infinity : typeof o[k] === 'number' ? o[k] : defaultPolicy[k]);
  return { keepAll: f('keepAll'), hourly: f('hourly'), daily: f('daily'), weekly: f('weekly') };
}

export interface DatedPoint {
  seq: number;
  timeUs: number;
}

/**
 * Which points a policy keeps at time `nowUs`: a pure function (tests inject the clock).
 * Each level keeps the newest point of each of its buckets among the points whose age
 * falls in that level; a point older than every level goes.
 */
export function keptPoints(points: DatedPoint[], policy: RetentionPolicy, nowUs: number, pinned: Set<number>): Set<number> {
  const kept = new Set<number>();
  if (points.length === 0) return kept;
  const sorted = [...points].sort((a, b) => a.seq - b.seq);
  kept.add(sorted[sorted.length - 1]!.seq);
  for (const p of sorted) if (pinned.has(p.seq)) kept.add(p.seq);
  const levels: Array<{ upTo: number; bucket: number }> = [
    { upTo: policy.keepAll, bucket: 0 },
    { upTo: policy.hourly, bucket: HOUR },
    { upTo: policy.daily, bucket: DAY },
    { upTo: policy.weekly, bucket: 7 * DAY },
  ];
  const newestInBucket = new Map<string, number>();
  for (const p of sorted) {
    const age = nowUs - p.timeUs;
    const level = levels.findIndex((l) => age <= l.upTo && l.upTo > 0);
    if (level < 0) continue;
    const { bucket } = levels[level]!;
    if (bucket === 0) {
      kept.add(p.seq);
      continue;
    }
    // Later points overwrite earlier ones: each bucket ends with its newest point.
    newestInBucket.set(`${level}:${Math.floor(p.timeUs / bucket)}`, p.seq);
  }
  for (const seq of newestInBucket.values()) kept.add(seq);
  return kept;
}
