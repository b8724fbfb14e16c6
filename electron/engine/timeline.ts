import type { Database, Statement } from 'better-sqlite3';
import type { PointSpec } from '../../shared/point.js';
import { formatIsoMicros } from '../../shared/time.js';
import { commitFlagNames } from './format/constants.js';
import type { CommitRow } from './index/index-db.js';
import type { CatalogState, DiskRecord } from './store/catalog-state.js';
import { ChronodiskError } from './errors.js';

/** A point on a disk's timeline: a committed batch. */
export interface PointInfo {
  seq: number;
  disk: string;
  diskId: number;
  timeUs: number;
  flags: number;
  label: string | null;
  bytes: number;
}

export interface Extent {
  offset: number;
  length: number;
}

export function flagNames(flags: number): Array<'crash-consistent' | 'scan' | 'restore' | 'final' | 'thinned'> {
  return commitFlagNames.filter(([bit]) => flags & bit).map(([, name]) => name);
}

/**
 * Timeline queries over the index: points, time → point, bookmarks, activity histograms
 * and the byte ranges written between points — all from the index, never the data.
 */
export class Timeline {
  private q: Record<string, Statement>;

  constructor(
    db: Database,
    private readonly catalog: () => CatalogState,
  ) {
    this.q = {
      bySeq: db.prepare('SELECT * FROM commits WHERE seq = ?'),
      latest: db.prepare('SELECT * FROM commits WHERE disk = ? ORDER BY seq DESC LIMIT 1'),
      first: db.prepare('SELECT * FROM commits WHERE disk = ? ORDER BY seq LIMIT 1'),
      atOrBeforeTime: db.prepare('SELECT * FROM commits WHERE disk = ? AND time_us <= ? ORDER BY time_us DESC, seq DESC LIMIT 1'),
      atOrBeforeSeq: db.prepare('SELECT * FROM commits WHERE disk = ? AND seq <= ? ORDER BY seq DESC LIMIT 1'),
      range: db.prepare('SELECT * FROM commits WHERE disk = ? AND time_us >= ? AND time_us <= ? ORDER BY seq LIMIT ?'),
      newest: db.prepare('SELECT * FROM (SELECT * FROM commits WHERE disk = ? AND time_us >= ? AND time_us <= ? ORDER BY seq DESC LIMIT ?) ORDER BY seq'),
      count: db.prepare('SELECT count(*) AS n FROM commits WHERE disk = ? AND time_us >= ? AND time_us <= ?'),
      written: db.prepare('SELECT start, end FROM writes WHERE disk = ? AND seq > ? AND seq <= ? ORDER BY start'),
      activity: db.prepare(
        'SELECT CAST((time_us - ?) / ? AS INTEGER) AS bucket, sum(bytes) AS bytes, count(*) AS n FROM commits WHERE disk = ? AND time_us >= ? AND time_us < ? GROUP BY bucket',
      ),
    };
  }

  points(disk: DiskRecord, range: { fromUs?: number; toUs?: number; limit?: number } = {}): PointInfo[] {
    const rows = this.q.range!.all(disk.id, range.fromUs ?? 0, range.toUs ?? Number.MAX_SAFE_INTEGER, range.limit ?? -1) as CommitRow[];
    return rows.map((r) => this.info(disk, r));
  }

  /** The newest `limit` points of the range, oldest first (a timeline that shows the recent end of a long history). */
  newestPoints(disk: DiskRecord, range: { fromUs?: number; toUs?: number; limit: number }): PointInfo[] {
    const rows = this.q.newest!.all(disk.id, range.fromUs ?? 0, range.toUs ?? Number.MAX_SAFE_INTEGER, range.limit) as CommitRow[];
    return rows.map((r) => this.info(disk, r));
  }

  count(disk: DiskRecord, range: { fromUs?: number; toUs?: number } = {}): number {
    return (this.q.count!.get(disk.id, range.fromUs ?? 0, range.toUs ?? Number.MAX_SAFE_INTEGER) as { n: number }).n;
  }

  latest(disk: DiskRecord): PointInfo | undefined {
    const r = this.q.latest!.get(disk.id) as CommitRow | undefined;
    return r && this.info(disk, r);
  }

  /** The committed point of `disk` with exactly this seq, or undefined. */
  pointAt(disk: DiskRecord, seq: number): PointInfo | undefined {
    const r = this.q.bySeq!.get(seq) as CommitRow | undefined;
    return r && r.disk === disk.id ? this.info(disk, r) : undefined;
  }

  /** Resolves a point as a person names it to a committed point of `disk`. */
  resolve(disk: DiskRecord, spec: PointSpec, nowUs = Date.now() * 1000): PointInfo {
    const none = (what: string) => {
      const first = this.q.first!.get(disk.id) as CommitRow | undefined;
      return new ChronodiskError(
        'not-found',
        first
          ? `${disk.name} has no point ${what}; its first point is ${first.seq} at ${formatIsoMicros(first.time_us)}`
          : `${disk.name} has no points yet; capture it first`,
      );
    };
    let row: CommitRow | undefined;
    switch (spec.kind) {
      case 'now':
        row = this.q.latest!.get(disk.id) as CommitRow | undefined;
        if (!row) throw none('yet');
        break;
      case 'seq':
        row = this.q.bySeq!.get(spec.seq) as CommitRow | undefined;
        if (!row || row.disk !== disk.id) {
          const before = this.q.atOrBeforeSeq!.get(disk.id, spec.seq) as CommitRow | undefined;
          if (!before) throw none(`at or before ${spec.seq}`);
          throw new ChronodiskError('not-found', `${spec.seq} is not a point of ${disk.name}; the nearest point before it is ${before.seq}`);
        }
        break;
      case 'time':
      case 'ago': {
        const t = spec.kind === 'time' ? spec.time : nowUs - spec.micros;
        row = this.q.atOrBeforeTime!.get(disk.id, t) as CommitRow | undefined;
        if (!row) throw none(`at or before ${formatIsoMicros(t)}`);
        break;
      }
      case 'bookmark': {
        const bm = this.catalog().bookmarks.get(disk.id)?.get(spec.label);
        if (!bm) throw new ChronodiskError('not-found', `${disk.name} has no bookmark "${spec.label}"; its timeline lists the bookmarks it has`);
        row = this.q.bySeq!.get(bm.seq) as CommitRow | undefined;
        if (!row) throw new ChronodiskError('not-found', `bookmark "${spec.label}" names point ${bm.seq}, which is no longer on the timeline`);
        break;
      }
    }
    return this.info(disk, row);
  }

  /** Byte ranges of `disk` written after point `a` up to and including point `b` (merged, sorted). */
  writtenBetween(disk: DiskRecord, a: number, b: number): Extent[] {
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    const out: Extent[] = [];
    let cur: { start: number; end: number } | undefined;
    for (const r of this.q.written!.iterate(disk.id, lo, hi) as Iterable<{ start: number; end: number }>) {
      if (cur && r.start <= cur.end) cur.end = Math.max(cur.end, r.end);
      else {
        if (cur) out.push({ offset: cur.start, length: cur.end - cur.start });
        cur = { start: r.start, end: r.end };
      }
    }
    if (cur) out.push({ offset: cur.start, length: cur.end - cur.start });
    return out;
  }

  /** Bytes written per time bucket in [fromUs, toUs), `buckets` equal buckets. */
  activity(disk: DiskRecord, fromUs: number, toUs: number, buckets: number): Array<{ startUs: number; bytes: number; writes: number }> {
    const width = Math.max(1, Math.ceil((toUs - fromUs) / buckets));
    const out = Array.from({ length: buckets }, (_, i) => ({ startUs: fromUs + i * width, bytes: 0, writes: 0 }));
    for (const r of this.q.activity!.all(fromUs, width, disk.id, fromUs, toUs) as Array<{ bucket: number; bytes: number; n: number }>) {
      const b = out[r.bucket];
      if (b) {
        b.bytes += r.bytes;
        b.writes += r.n;
      }
    }
    return out;
  }

  private info(disk: DiskRecord, r: CommitRow): PointInfo {
    return { seq: r.seq, disk: disk.name, diskId: disk.id, timeUs: r.time_us, flags: r.flags, label: r.label, bytes: r.bytes };
  }
}
