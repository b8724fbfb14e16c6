import type { Verb } from './verb.js';
import { parseIsoMicros, formatIsoMicros } from '../../shared/time.js';
import { formatBytes, formatCount } from '../../shared/units.js';
import { ChronodiskError } from '../engine/errors.js';
import { flagNames, type PointInfo } from '../engine/timeline.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { bookmarkJson, pointJson } from './json-shapes.js';
import { printJson, printLine, printTable } from './output.js';

const GROUP_ABOVE = 200;

function timeOption(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const t = parseIsoMicros(text);
  if (t === undefined) throw new ChronodiskError('usage', `${name} "${text}" is not an ISO-8601 time (e.g. 2026-11-25T10:00:00Z)`);
  return t;
}

/** Groups points into hours or days when there are too many to list one by one. */
function group(points: PointInfo[]): Array<{ start: string; points: number; bytes: number; firstSeq: number; lastSeq: number }> {
  const span = points.length ? points[points.length - 1]!.timeUs - points[0]!.timeUs : 0;
  const width = span > 3 * 86400e6 ? 86400e6 : 3600e6;
  const out = new Map<number, { start: string; points: number; bytes: number; firstSeq: number; lastSeq: number }>();
  for (const p of points) {
    const key = Math.floor(p.timeUs / width) * width;
    const g = out.get(key) ?? { start: formatIsoMicros(key), points: 0, bytes: 0, firstSeq: p.seq, lastSeq: p.seq };
    g.points++;
    g.bytes += p.bytes;
    g.lastSeq = p.seq;
    out.set(key, g);
  }
  return [...out.values()];
}

export const timelineVerb: Verb = {
  name: 'timeline',
  summary: "Show a disk's points and bookmarks (grouped by hour or day when there are many)",
  configure(cmd) {
    applianceOptions(cmd)
      .argument('<disk>', 'the disk name')
      .option('--from <time>', 'only points at or after this ISO time')
      .option('--to <time>', 'only points at or before this ISO time')
      .option('--all', 'list every point, never grouped')
      .option('--json', 'print JSON')
      .action(async (diskName: string, opts: ApplianceOptions & { from?: string; to?: string; all?: boolean; json?: boolean }) => {
        const range = { fromUs: timeOption(opts.from, '--from'), toUs: timeOption(opts.to, '--to') };
        if (range.fromUs !== undefined && range.toUs !== undefined && range.fromUs > range.toUs) {
          throw new ChronodiskError('usage', `--from ${opts.from} is after --to ${opts.to}; give the earlier time first`);
        }
        await withAppliance(opts, {}, (app) => {
          const disk = app.disk(diskName);
          const points = app.timeline.points(disk, range);
          const bookmarks = app.bookmarks(disk);
          const grouped = !opts.all && points.length > GROUP_ABOVE;
          if (opts.json) {
            printJson({
              disk: disk.name,
              count: points.length,
              ...(grouped ? { groups: group(points) } : { points: points.map(pointJson) }),
              bookmarks: bookmarks.map((b) => bookmarkJson(disk.name, b)),
            });
            return;
          }
          if (points.length === 0) return printLine(`${disk.name} has no points yet.`);
          const labels = new Map(bookmarks.map((b) => [b.seq, b.label]));
          if (grouped) {
            printTable([['FROM', 'POINTS', 'WRITTEN', 'SEQS'], ...group(points).map((g) => [g.start, String(g.points), formatBytes(g.bytes), `${g.firstSeq}–${g.lastSeq}`])]);
          } else {
            printTable([
              ['SEQ', 'TIME', 'WRITTEN', 'FLAGS', 'BOOKMARK'],
              ...points.map((p) => [String(p.seq), formatIsoMicros(p.timeUs), formatBytes(p.bytes), flagNames(p.flags).join(',') || '–', labels.get(p.seq) ?? p.label ?? '']),
            ]);
          }
          printLine(`${formatCount(points.length, 'point')}, ${formatCount(bookmarks.length, 'bookmark')}.`);
        });
      });
  },
};
