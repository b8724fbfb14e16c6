/** The window's pure logic: slider geometry, listing order, paths, multi-select, settings text, protect and restore checks. */
import { describe, expect, it } from 'vitest';
import type { Drive, FileEntry, Settings } from '../../shared/contract.js';
import { settings as settingsSchema } from '../../shared/contract.js';
import { barLengths, bucketCount, fractionOfTime, pageStepUs, timeAtFraction } from '../../renderer/src/model/slider-scale.js';
import { sortEntries } from '../../renderer/src/model/file-order.js';
import { breadcrumbs, joinPath, parentPath } from '../../renderer/src/model/inner-path.js';
import { clickRow, keepListed } from '../../renderer/src/model/row-selection.js';
import { formatDuration, parseRetentionText } from '../../renderer/src/model/retention-text.js';
import { fromDraft, toDraft } from '../../renderer/src/stores/settings-store.js';
import { driveRefusal, nameProblem, suggestName } from '../../renderer/src/stores/protect-store.js';
import { confirms } from '../../renderer/src/stores/disk-restore-store.js';
import { tokenFromHash } from '../../renderer/src/bridge/connect.js';

describe('slider geometry (newest at the top)', () => {
  const span = { firstUs: 1_000_000, latestUs: 11_000_000 };
  it('maps the top to the newest time and the bottom to the oldest, clamped', () => {
    expect(timeAtFraction(span, 0)).toBe(11_000_000);
    expect(timeAtFraction(span, 1)).toBe(1_000_000);
    expect(timeAtFraction(span, 0.25)).toBe(8_500_000);
    expect(timeAtFraction(span, -3)).toBe(11_000_000);
    expect(timeAtFraction(span, 7)).toBe(1_000_000);
  });
  it('is the inverse of fractionOfTime', () => {
    for (const f of [0, 0.1, 0.5, 0.77, 1]) expect(fractionOfTime(span, timeAtFraction(span, f))).toBeCloseTo(f, 9);
    expect(fractionOfTime({ firstUs: 5, latestUs: 5 }, 5)).toBe(0);
  });
  it('pages by a tenth of the span, at least a second', () => {
    expect(pageStepUs(span)).toBe(1_000_000);
    expect(pageStepUs({ firstUs: 0, latestUs: 100e6 })).toBe(10e6);
    expect(pageStepUs({ firstUs: 0, latestUs: 10 })).toBe(1_000_000);
  });
  it('asks for a bounded number of histogram buckets and scales bars by square root', () => {
    expect(bucketCount(0)).toBe(8);
    expect(bucketCount(600)).toBe(150);
    expect(bucketCount(100_000)).toBe(400);
    expect(barLengths([0, 25, 100])).toEqual([0, 0.5, 1]);
    expect(barLengths([0, 0])).toEqual([0, 0]);
    expect(barLengths([1, 1_000_000])[0]).toBeGreaterThan(0); // a tiny write still shows
  });
});

const entry = (name: string, type: FileEntry['type']): FileEntry => ({ name, type, size: 0, mtimeUs: 0, mode: 0, uid: 0, gid: 0 });

describe('listing order and paths', () => {
  it('puts folders first, then names in reading order (numbers as numbers)', () => {
    const sorted = sortEntries([entry('b.txt', 'file'), entry('Zeta', 'dir'), entry('file10', 'file'), entry('alpha', 'dir'), entry('file2', 'file'), entry('link', 'symlink')]);
    expect(sorted.map((e) => e.name)).toEqual(['alpha', 'Zeta', 'b.txt', 'file2', 'file10', 'link']);
  });
  it('joins, climbs and splits inner paths into breadcrumbs', () => {
    expect(joinPath('/', 'a')).toBe('/a');
    expect(joinPath('/a', 'b c')).toBe('/a/b c');
    expect(parentPath('/a/b')).toBe('/a');
    expect(parentPath('/a')).toBe('/');
    expect(breadcrumbs('/', 'home')).toEqual([{ name: 'home', path: '/' }]);
    expect(breadcrumbs('/docs/été', 'home')).toEqual([
      { name: 'home', path: '/' },
      { name: 'docs', path: '/docs' },
      { name: 'été', path: '/docs/été' },
    ]);
  });
});

describe('multi-select', () => {
  const order = ['a', 'b', 'c', 'd', 'e'];
  const none = { selected: [], anchor: undefined };
  it('selects one, toggles with Ctrl, selects a range with Shift from the anchor', () => {
    let s = clickRow(none, order, 'b', 'single');
    expect(s.selected).toEqual(['b']);
    s = clickRow(s, order, 'd', 'toggle');
    expect(s.selected).toEqual(['b', 'd']);
    s = clickRow(s, order, 'b', 'toggle');
    expect(s.selected).toEqual(['d']);
    // Ctrl-click moved the anchor to b: Shift-click selects from there.
    s = clickRow(s, order, 'a', 'range');
    expect(s.selected).toEqual(['a', 'b']);
    s = clickRow(clickRow(none, order, 'b', 'single'), order, 'e', 'range');
    expect(s.selected).toEqual(['b', 'c', 'd', 'e']);
    expect(clickRow(none, order, 'c', 'range').selected).toEqual(['c']);
  });
  it('drops names that are no longer listed', () => {
    expect(keepListed({ selected: ['a', 'x', 'c'], anchor: 'x' }, order)).toEqual({ selected: ['a', 'c'], anchor: undefined });
  });
});

describe('settings as text', () => {
  const saved: Settings = { scanIntervalSec: 300, rateLimit: 50 * 1024 * 1024, retention: { keepAllUs: 86400e6, hourlyUs: 30 * 86400e6, dailyUs: 365 * 86400e6, weeklyUs: null }, restoreFolders: ['/srv/restored'] };
  it('formats durations exactly and reads them back', () => {
    expect(formatDuration(86400e6)).toBe('1d');
    expect(formatDuration(90 * 60e6)).toBe('90m');
    expect(formatDuration(14 * 86400e6)).toBe('2w');
    expect(parseRetentionText('forever', true)).toBeNull();
    expect(parseRetentionText('forever', false)).toBeUndefined();
    expect(parseRetentionText('36h', false)).toBe(36 * 3600e6);
  });
  it('round-trips the service settings through the draft, and the result fits the contract', () => {
    const d = toDraft(saved);
    expect(d).toMatchObject({ scanIntervalSec: '300', rateLimitMiB: '50', keepAll: '1d', hourly: '30d', daily: '1y', weekly: 'forever' });
    const back = fromDraft(d);
    expect(back).toEqual(saved);
    expect(settingsSchema.safeParse(back).success).toBe(true);
  });
  it('names the field that is wrong, in one line', () => {
    const d = toDraft(saved);
    expect(fromDraft({ ...d, scanIntervalSec: '0' })).toMatch(/^Scan interval/);
    expect(fromDraft({ ...d, rateLimitMiB: 'fast' })).toMatch(/^Read limit/);
    expect(fromDraft({ ...d, hourly: 'a month' })).toMatch(/^Keep hourly points until/);
    expect(fromDraft({ ...d, weekly: '2 years' })).toMatch(/^Keep weekly/);
    expect(fromDraft({ ...d, restoreFolders: ['relative/dir'] })).toMatch(/not an absolute path/);
    expect(fromDraft({ ...d, rateLimitMiB: '0.5' })).toMatchObject({ rateLimit: 512 * 1024 });
  });
});

describe('protect and restore checks', () => {
  const drive = (over: Partial<Drive>): Drive => ({ device: '/dev/sdc', description: 'USB', size: 1, isSystem: false, isAppliance: false, isRemovable: true, mountpoints: [], ...over });
  it("refuses the system disk, the appliance's disk and a protected one, preferring the service's reason", () => {
    expect(driveRefusal(drive({}))).toBeUndefined();
    expect(driveRefusal(drive({ isSystem: true }))).toMatch(/system disk/);
    expect(driveRefusal(drive({ isAppliance: true }))).toMatch(/appliance/);
    expect(driveRefusal(drive({ protectedAs: 'home' }))).toMatch(/already protected as home/);
    expect(driveRefusal(drive({ isSystem: true, refusal: '/ is mounted from it' }))).toBe('/ is mounted from it');
  });
  it('suggests a name from the device and checks names as the contract does', () => {
    expect(suggestName('/dev/sdb')).toBe('sdb');
    expect(suggestName('/srv/images/backup.img')).toBe('backup');
    expect(nameProblem('', [])).toMatch(/give the disk a name/);
    expect(nameProblem('a:b', [])).toMatch(/may not contain/);
    expect(nameProblem('home', ['home'])).toMatch(/already protected/);
    expect(nameProblem('work', ['home'])).toBeUndefined();
  });
  it('confirms a whole-disk restore only with the exact disk name', () => {
    expect(confirms('home', 'home')).toBe(true);
    expect(confirms(' home ', 'home')).toBe(true);
    expect(confirms('Home', 'home')).toBe(false);
    expect(confirms('', 'home')).toBe(false);
  });
  it('reads the token from the address fragment', () => {
    expect(tokenFromHash('#token=abc123')).toBe('abc123');
    expect(tokenFromHash('#x=1&token=t%2Bk')).toBe('t+k');
    expect(tokenFromHash('')).toBeUndefined();
    expect(tokenFromHash('#token=')).toBeUndefined();
  });
});
