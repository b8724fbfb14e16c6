import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { ChronodiskError } from '../../electron/engine/errors.js';
import {
  defaultPolicy,
  formatRetentionDuration,
  keptPoints,
  parseRetentionDuration,
  policyFromJson,
  policyToJson,
  type DatedPoint,
  type RetentionPolicy,
} from '../../electron/engine/retention/policy.js';
import { runCli, runCliJson } from '../helpers/cli.js';

/**
 * The retention policy as a pure function of the points and an injected clock: which
 * points each level keeps, the ones always kept (bookmarks, the latest), and how durations
 * are written. One CLI round trip at the end shows the verbs apply the same rules.
 */

const S = 1e6;
const MIN = 60 * S;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const YEAR = 365 * DAY;
/** A fixed "now": 2026-06-15T12:00:00Z, a Monday, in µs. */
const NOW = Date.UTC(2026, 5, 15, 12, 0, 0) * 1000;
const none = new Set<number>();

/** Points at the given ages (µs before NOW), seq increasing with time. */
function atAges(ages: number[]): DatedPoint[] {
  return [...ages].sort((a, b) => b - a).map((age, i) => ({ seq: 100 + i, timeUs: NOW - age }));
}

function seqsAt(points: DatedPoint[], kept: Set<number>): number[] {
  return points.filter((p) => kept.has(p.seq)).map((p) => p.seq);
}

/** One point every `step` µs going back `span` from NOW (the newest at NOW - `step`/2). */
function regular(step: number, span: number): DatedPoint[] {
  const out: DatedPoint[] = [];
  for (let age = step / 2, i = 0; age < span; age += step, i++) out.push({ seq: 0, timeUs: NOW - age });
  out.reverse();
  return out.map((p, i) => ({ ...p, seq: i + 1 }));
}

const levelOf = (age: number) => (age <= DAY ? 0 : age <= 30 * DAY ? 1 : age <= YEAR ? 2 : 3);
const bucketSize = [0, HOUR, DAY, WEEK];

describe('keptPoints, default policy (every point 24 h, hourly 30 d, daily 1 y, weekly beyond)', () => {
  // A point every 20 minutes for two years: 52,560 points.
  const points = regular(20 * MIN, 2 * YEAR);
  const kept = keptPoints(points, defaultPolicy, NOW, none);

  it('keeps every point of the last 24 hours', () => {
    const recent = points.filter((p) => NOW - p.timeUs <= DAY);
    expect(recent.length).toBe(72);
    for (const p of recent) expect(kept.has(p.seq), `point ${p.seq}, ${(NOW - p.timeUs) / HOUR} h old`).toBe(true);
  });

  it('keeps exactly the newest point of each hour, day and week bucket of its level', () => {
    // Group the points by (level, bucket); each group must keep exactly its newest point.
    const groups = new Map<string, DatedPoint[]>();
    for (const p of points) {
      const level = levelOf(NOW - p.timeUs);
      if (level === 0) continue;
      const key = `${level}:${Math.floor(p.timeUs / bucketSize[level]!)}`;
      groups.set(key, [...(groups.get(key) ?? []), p]);
    }
    for (const [key, group] of groups) {
      const keptHere = group.filter((p) => kept.has(p.seq));
      expect(keptHere.map((p) => p.seq), `bucket ${key}`).toEqual([group[group.length - 1]!.seq]);
    }
    // Nothing else is kept: the last 24 h plus one point per bucket.
    expect(kept.size).toBe(72 + groups.size);
  });

  it('thins to about 24 points a day over the month, one a day over the year, one a week beyond', () => {
    const count = (from: number, to: number) => points.filter((p) => kept.has(p.seq) && NOW - p.timeUs > from && NOW - p.timeUs <= to).length;
    // 29 days of hourly points (a bucket at each level edge may straddle it: ±1).
    expect(Math.abs(count(DAY, 30 * DAY) - 29 * 24)).toBeLessThanOrEqual(1);
    expect(Math.abs(count(30 * DAY, YEAR) - 335)).toBeLessThanOrEqual(1);
    // 52 1/7 weeks, with a partial week at each end.
    expect(count(YEAR, 2 * YEAR)).toBeGreaterThanOrEqual(52);
    expect(count(YEAR, 2 * YEAR)).toBeLessThanOrEqual(54);
  });

  it('keeps the newest of two points in the same hour, day or week, and both when they are in different ones', () => {
    const at = (iso: string) => Date.parse(iso) * 1000;
    const pts: DatedPoint[] = [
      { seq: 1, timeUs: at('2024-01-02T08:00:00Z') }, // over a year old: week of 2024-01-01 (epoch weeks start on Thursdays)
      { seq: 2, timeUs: at('2024-01-03T09:00:00Z') }, //   same epoch week: only this one stays
      { seq: 3, timeUs: at('2026-04-01T08:00:00Z') }, // 75 days old: day 2026-04-01
      { seq: 4, timeUs: at('2026-04-01T20:00:00Z') }, //   same day: only this one stays
      { seq: 5, timeUs: at('2026-04-02T01:00:00Z') }, //   the next day: stays
      { seq: 6, timeUs: at('2026-06-12T09:10:00Z') }, // 3 days old: hour 09 of 2026-06-12
      { seq: 7, timeUs: at('2026-06-12T09:50:00Z') }, //   same hour: only this one stays
      { seq: 8, timeUs: at('2026-06-12T10:05:00Z') }, //   the next hour: stays
      { seq: 9, timeUs: at('2026-06-15T10:00:00Z') }, // 2 hours old: stays
      { seq: 10, timeUs: at('2026-06-15T10:00:01Z') }, //  a second later: stays too
    ];
    expect([...keptPoints(pts, defaultPolicy, NOW, none)].sort((a, b) => a - b)).toEqual([2, 4, 5, 7, 8, 9, 10]);
  });

  it('keeps points stamped after "now" (a clock set back never thins recent history)', () => {
    const pts = atAges([-2 * HOUR, -DAY * 3, 5 * DAY]);
    expect(seqsAt(pts, keptPoints(pts, defaultPolicy, NOW, none))).toEqual(pts.map((p) => p.seq));
  });

  it('judges by the given clock, not the machine clock', () => {
    const pts = atAges([10 * MIN, 20 * MIN, 30 * MIN]);
    expect(keptPoints(pts, defaultPolicy, NOW, none).size).toBe(3);
    // Seen from ten years later, only the latest remains (all three fall in one week).
    expect([...keptPoints(pts, defaultPolicy, NOW + 10 * YEAR, none)]).toEqual([pts[2]!.seq]);
  });

  it('returns nothing for no points, and orders by seq whatever the input order', () => {
    expect(keptPoints([], defaultPolicy, NOW, none).size).toBe(0);
    const pts = atAges([3 * YEAR, 2 * YEAR, 4 * YEAR]);
    const shuffled = [pts[1]!, pts[2]!, pts[0]!];
    // All older than every level but the weekly one (inf): one per week, so all three stay.
    expect(keptPoints(shuffled, defaultPolicy, NOW, none)).toEqual(new Set(pts.map((p) => p.seq)));
  });
});

describe('keptPoints, custom levels', () => {
  const points = regular(30 * MIN, 60 * DAY); // 2,880 points
  const latest = points[points.length - 1]!.seq;
  const keep = (policy: Partial<RetentionPolicy>, pinned = none, now = NOW) => keptPoints(points, { ...defaultPolicy, ...policy }, now, pinned);
  const ageOf = (seq: number) => NOW - points[seq - 1]!.timeUs;

  it('keep-all 2h, hourly 0, daily 7d, weekly 0: everything 2 h, then one a day to 7 days, nothing older', () => {
    const kept = keep({ keepAll: 2 * HOUR, hourly: 0, daily: 7 * DAY, weekly: 0 });
    expect(points.filter((p) => ageOf(p.seq) <= 2 * HOUR).every((p) => kept.has(p.seq))).toBe(true);
    for (const seq of kept) expect(ageOf(seq), `point ${seq}`).toBeLessThanOrEqual(7 * DAY);
    const daily = [...kept].filter((s) => ageOf(s) > 2 * HOUR);
    // Days with points aged (2 h, 7 d]: 7 or 8 calendar days depending on the clock's hour.
    const days = new Set(points.filter((p) => ageOf(p.seq) > 2 * HOUR && ageOf(p.seq) <= 7 * DAY).map((p) => Math.floor(p.timeUs / DAY)));
    expect(daily.length).toBe(days.size);
  });

  it('a 0 level is skipped: the next level takes its ages', () => {
    // keepAll 0: the newest day is thinned hourly, not kept whole.
    const kept = keep({ keepAll: 0 });
    const lastDay = points.filter((p) => ageOf(p.seq) <= DAY);
    const keptLastDay = lastDay.filter((p) => kept.has(p.seq));
    expect(lastDay.length).toBe(48);
    expect(keptLastDay.length).toBeGreaterThanOrEqual(24);
    expect(keptLastDay.length).toBeLessThanOrEqual(25);
    // With hourly 0 too, days older than 24 h are thinned daily.
    const daily = keep({ hourly: 0 });
    expect(points.filter((p) => ageOf(p.seq) > DAY && ageOf(p.seq) <= 30 * DAY && daily.has(p.seq)).length).toBeLessThanOrEqual(31);
  });

  it('inf at a level keeps that level forever', () => {
    expect(keep({ keepAll: Infinity }).size).toBe(points.length);
    const hourlyForever = keep({ keepAll: 0, hourly: Infinity, daily: 0, weekly: 0 });
    expect(hourlyForever.size).toBe(new Set(points.map((p) => Math.floor(p.timeUs / HOUR))).size);
  });

  it('a weekly level of 0 lets everything older than the daily level go (but the latest)', () => {
    const kept = keep({ keepAll: DAY, hourly: 2 * DAY, daily: 10 * DAY, weekly: 0 });
    for (const seq of kept) expect(ageOf(seq)).toBeLessThanOrEqual(10 * DAY);
    // Seen from 100 days on, nothing is young enough: only the latest stays.
    expect([...keep({ keepAll: DAY, hourly: 2 * DAY, daily: 10 * DAY, weekly: 0 }, none, NOW + 100 * DAY)]).toEqual([latest]);
  });

  it('bookmarks (pinned) and the latest point stay whatever the policy', () => {
    const pinned = new Set([1, 17, 1000]);
    for (const policy of [defaultPolicy, { keepAll: 0, hourly: 0, daily: 0, weekly: 0 }, { keepAll: HOUR, hourly: 0, daily: 3 * DAY, weekly: 0 }]) {
      const kept = keep(policy, pinned, NOW + 5 * YEAR);
      for (const s of [...pinned, latest]) expect(kept.has(s), `${s} under ${JSON.stringify(policyToJson(policy))}`).toBe(true);
    }
  });

  it('keep-all 0, hourly 0, daily 0, weekly 0 keeps only the bookmarks and the latest point', () => {
    const zero = { keepAll: 0, hourly: 0, daily: 0, weekly: 0 };
    expect([...keep(zero)]).toEqual([latest]);
    const pinned = new Set([5, 600, 2000]);
    expect([...keep(zero, pinned)].sort((a, b) => a - b)).toEqual([5, 600, 2000, latest]);
    // A pin on a point that does not exist adds nothing.
    expect([...keep(zero, new Set([99_999]))]).toEqual([latest]);
  });
});

describe('retention durations', () => {
  it.each([
    ['24h', DAY],
    ['30d', 30 * DAY],
    ['1y', YEAR],
    ['2w', 2 * WEEK],
    ['90m', 90 * MIN],
    ['45s', 45 * S],
    ['1.5h', 1.5 * HOUR],
    [' 7d ', 7 * DAY],
    ['0', 0],
    ['inf', Infinity],
    ['forever', Infinity],
  ])('%s parses', (text, us) => {
    expect(parseRetentionDuration(text, '--hourly')).toBe(us);
  });

  it.each(['', '24', 'h', '-1d', '1x', '1 d', '1D', '1d2h', 'infinity', 'NaN', '1e3s', '0x10s'])('%j is a usage error naming the option and the text, on one line', (text) => {
    let err: unknown;
    try {
      parseRetentionDuration(text, '--daily');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ChronodiskError);
    const e = err as ChronodiskError;
    expect(e.code).toBe('usage');
    expect(e.message).toContain(`--daily ${text}`);
    expect(e.message).toMatch(/e\.g\. 30d/);
    expect(e.message).not.toContain('\n');
  });

  it('formats back to what parses to the same value', () => {
    for (const us of [0, Infinity, 45 * S, 90 * MIN, DAY, 30 * DAY, 2 * WEEK, YEAR, 36 * HOUR]) {
      const text = formatRetentionDuration(us);
      expect(parseRetentionDuration(text, '--x'), text).toBe(us);
    }
    expect(formatRetentionDuration(DAY)).toBe('1d');
    expect(formatRetentionDuration(YEAR)).toBe('1y');
  });

  it('stores a policy as JSON (inf as null) and reads it back; a missing or odd setting is the default', () => {
    const p: RetentionPolicy = { keepAll: 0, hourly: 2 * DAY, daily: Infinity, weekly: 0 };
    const json = JSON.parse(JSON.stringify(policyToJson(p)));
    expect(json.daily).toBeNull();
    expect(policyFromJson(json)).toEqual(p);
    expect(policyFromJson(undefined)).toEqual(defaultPolicy);
    expect(policyFromJson('weekly')).toEqual(defaultPolicy);
    expect(policyFromJson({ hourly: 5 * DAY })).toEqual({ ...defaultPolicy, hourly: 5 * DAY });
  });
});

describe('the retention and prune verbs apply the policy', () => {
  const root = mkdtempSync(join(tmpdir(), 'chronodisk-policy-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('--keep-all 0 --hourly 0 --daily 0 --weekly 0: prune would keep only the bookmarks and the latest point', async () => {
    const dir = join(root, 'a');
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true });
    let marked: number;
    let latest: number;
    try {
      const d = app.addDisk({ name: 'd', source: '/dev/null', size: 1024 * 1024, mode: 'scan', blockSize: 4096, identity: {} });
      for (let i = 0; i < 8; i++) {
        const b = app.beginBatch(d);
        b.write(i * 4096, Buffer.alloc(4096, i + 1));
        await b.commit();
      }
      const pts = app.timeline.points(d);
      marked = pts[2]!.seq;
      latest = pts[7]!.seq;
      app.addBookmark(d, pts[2]!, 'before upgrade');
    } finally {
      app.close();
    }

    // The default policy keeps everything: the points are seconds old.
    const dry = runCliJson<{ removedPoints: number }>(['prune', '-a', dir, '--dry-run']);
    expect(dry.removedPoints).toBe(0);

    const shown = runCliJson<Record<string, string>>(['retention', '-a', dir, 'd', '--keep-all', '0', '--hourly', '0', '--daily', '0', '--weekly', '0']);
    expect(shown).toMatchObject({ disk: 'd', keepAll: '0', hourly: '0', daily: '0', weekly: '0' });
    expect(runCliJson<Record<string, string>>(['retention', '-a', dir, 'd'])).toMatchObject({ keepAll: '0', weekly: '0' });
    expect(runCli(['retention', '-a', dir, 'd']).stdout).toBe('d: only the latest point; bookmarks kept until removed.\n');

    const plan = runCliJson<{ removedPoints: number; disks: Array<{ points: number; removed: Array<{ seq: number }> }> }>(['prune', '-a', dir, '--dry-run']);
    expect(plan.disks[0]!.points).toBe(8);
    const removed = plan.disks[0]!.removed.map((r) => r.seq);
    expect(removed).toHaveLength(6);
    expect(removed).not.toContain(marked);
    expect(removed).not.toContain(latest);

    // A bad duration is one usage line, exit 2, and changes nothing.
    const bad = runCli(['retention', '-a', dir, 'd', '--weekly', '3x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('--weekly 3x is not a duration');
    expect(runCliJson<Record<string, string>>(['retention', '-a', dir, 'd'])).toMatchObject({ weekly: '0' });

    // So is a level that would keep nothing (hourly up to 1d after every point for 30d),
    // and a free-space floor the size of the drive; together they change nothing either.
    const empty = runCli(['retention', '-a', dir, 'd', '--keep-all', '30d', '--hourly', '1d', '--min-free', '1G']);
    expect({ status: empty.status, lines: empty.stderr.trim().split('\n').length }).toEqual({ status: 2, lines: 1 });
    expect(empty.stderr).toContain('retention hourly up to 1d ends before every point (30d) does, so it would keep nothing; make it longer, or 0 for none');
    const huge = runCli(['retention', '-a', dir, 'd', '--keep-all', '2d', '--min-free', '1000000T']);
    expect(huge.status).toBe(2);
    expect(huge.stderr).toMatch(/a free-space floor of .* is no smaller than the appliance's drive .*: capture would never run; choose a smaller one/);
    expect(runCliJson<Record<string, string | null>>(['retention', '-a', dir, 'd', '--json'])).toMatchObject({ keepAll: '0', hourly: '0', minFreeBytes: null });
    expect(runCliJson<Record<string, string>>(['retention', '-a', dir, 'd', '--keep-all', '30d', '--hourly', '0', '--daily', '1y'])).toMatchObject({ keepAll: '30d', hourly: '0', daily: '1y' });
    expect(runCli(['retention', '-a', dir, 'd', '--weekly', 'inf']).stdout).toBe('d: every point for 30d, daily up to 1y, weekly forever; bookmarks kept until removed.\n');
  }, 60_000);
});
