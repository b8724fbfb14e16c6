import { createHash } from 'node:crypto';
import { readSync, statSync } from 'node:fs';
import type { Appliance } from '../appliance.js';
import { CommitFlag, RECORD_HEADER_SIZE, RecordType } from '../format/constants.js';
import type { CommitRow } from '../index/index-db.js';
import type { DiskRecord } from '../store/catalog-state.js';
import type { SegmentWriter } from '../store/segment-writer.js';
import { decodeRecordHeader } from '../format/segment-record.js';
import { segmentPath } from '../store/segment-file.js';
import { keptPoints } from './policy.js';
import { policyOf } from './policy-settings.js';

export interface DiskThinning {
  disk: string;
  diskId: number;
  points: number;
  /** Points that go, oldest first. */
  removed: Array<{ seq: number; timeUs: number }>;
  /** Logical bytes the removed points' writes free (overwritten by the next kept point). */
  bytesFreed: number;
}

export interface ThinPlan {
  nowUs: number;
  /** The newest point the plan looked at: later points were not considered, and stay. */
  throughSeq: number;
  disks: DiskThinning[];
  /** Disks unprotected with their history given up: all their records go. */
  droppedDisks: number[];
  removedPoints: number;
  bytesFreed: number;
}

/**
 * Which points each disk's policy lets go now (nothing is changed). With `throughSeq`, the
 * plan is made as of that point: later points are left out, as if not yet captured, so a
 * plan someone confirmed can be made again exactly while capture goes on (see planDigest).
 */
export function planThinning(app: Appliance, nowUs = Date.now() * 1000, override?: (d: DiskRecord) => Set<number> | undefined, throughSeq = Infinity): ThinPlan {
  const disks: DiskThinning[] = [];
  let newest = 0;
  for (const disk of app.disks()) {
    const points = app.timeline.points(disk).filter((p) => p.seq <= throughSeq);
    for (const p of points) newest = Math.max(newest, p.seq);
    const pinned = new Set(app.bookmarks(disk).map((b) => b.seq));
    const kept = override?.(disk) ?? keptPoints(points, policyOf(app, disk), nowUs, pinned);
    const removed = points.filter((p) => !kept.has(p.seq)).map((p) => ({ seq: p.seq, timeUs: p.timeUs }));
    disks.push({ disk: disk.name, diskId: disk.id, points: points.length, removed, bytesFreed: freedBytes(app, disk, points.map((p) => p.seq), kept) });
  }
  const dropped = [...app.catalog.state.removedDisks.values()].filter((d) => d.historyDeleted).map((d) => d.id);
  const droppedWithData = dropped.filter((id) => app.index.db.prepare('SELECT 1 FROM writes WHERE disk = ? LIMIT 1').get(id));
  return {
    nowUs,
    throughSeq: Number.isFinite(throughSeq) ? throughSeq : newest,
    disks,
    droppedDisks: droppedWithData,
    removedPoints: disks.reduce((n, d) => n + d.removed.length, 0),
    bytesFreed: disks.reduce((n, d) => n + d.bytesFreed, 0),
  };
}

/**
 * What a plan removes, as a short fingerprint: the plan a person confirmed (made by a
 * reader) and the one the writer makes again are the same exactly when their digests are.
 */
export function planDigest(plan: ThinPlan): string {
  const removes = { nowUs: plan.nowUs, throughSeq: plan.throughSeq, disks: plan.disks.map((d) => [d.diskId, d.removed.map((r) => r.seq)]), dropped: plan.droppedDisks };
  return createHash('sha256').update(JSON.stringify(removes)).digest('hex');
}

/**
 * The same plan with only some of its removals (and the dropped disks or not): how the
 * space guard thins in steps that fit the room it has.
 */
export function narrowPlan(app: Appliance, plan: ThinPlan, removals: Set<number>, dropDisks: boolean): ThinPlan {
  const disks = plan.disks.map((d) => {
    const removed = d.removed.filter((r) => removals.has(r.seq));
    if (removed.length === d.removed.length) return d;
    const disk = app.catalog.state.disks.get(d.diskId)!;
    const seqs = app.timeline.points(disk).map((p) => p.seq);
    const gone = new Set(removed.map((r) => r.seq));
    return { ...d, removed, bytesFreed: freedBytes(app, disk, seqs, new Set(seqs.filter((s) => !gone.has(s)))) };
  });
  return {
    nowUs: plan.nowUs,
    throughSeq: plan.throughSeq,
    disks,
    droppedDisks: dropDisks ? plan.droppedDisks : [],
    removedPoints: disks.reduce((n, d) => n + d.removed.length, 0),
    bytesFreed: disks.reduce((n, d) => n + d.bytesFreed, 0),
  };
}

function freedBytes(app: Appliance, disk: DiskRecord, seqs: number[], kept: Set<number>): number {
  let freed = 0;
  let prevKept = 0;
  let runBytes = 0;
  let inRun = false;
  const bytesOf = app.index.db.prepare('SELECT bytes FROM commits WHERE seq = ?');
  for (const seq of seqs) {
    const b = (bytesOf.get(seq) as { bytes: number }).bytes;
    runBytes += b;
    if (!kept.has(seq)) {
      inRun = true;
      continue;
    }
    if (inRun) {
      const merged = app.timeline.writtenBetween(disk, prevKept, seq).reduce((n, e) => n + e.length, 0);
      freed += Math.max(0, runBytes - merged);
    }
    prevKept = seq;
    runBytes = 0;
    inRun = false;
  }
  return freed;
}

export interface ThinProgress {
  done: number;
  total: number;
}

/**
 * Carries out a plan: every kept batch is copied as it is; a kept point that follows
 * removed ones gets one merged batch (see writeMerged), so its image and every later one
 * read exactly as before. The new segments replace the old ones through one
 * catalog manifest record (see swapSegments), so a crash leaves the old state or the new.
 */
export async function executeThinning(app: Appliance, plan: ThinPlan, onProgress?: (p: ThinProgress) => void): Promise<{ bytesRewritten: number; segmentsBefore: number; segmentsAfter: number }> {
  const removed = new Set(plan.disks.flatMap((d) => d.removed.map((r) => r.seq)));
  const dropped = new Set(plan.droppedDisks);
  const db = app.index.db;
  const writesOf = db.prepare('SELECT seq, segment, rec_offset FROM writes WHERE disk = ? AND seq >= ? AND seq < ? ORDER BY seq');
  const runWrites = db.prepare('SELECT seq, segment, rec_offset, start, end FROM writes WHERE disk = ? AND seq > ? AND seq < ? ORDER BY seq');
  const segmentsBefore = app.catalog.state.liveSegments().length;
  const copy = (out: SegmentWriter, segment: number, offset: number) => {
    const fd = app.files.fd(Math.abs(segment));
    const head = Buffer.alloc(RECORD_HEADER_SIZE);
    readSync(fd, head, 0, RECORD_HEADER_SIZE, offset);
    const h = decodeRecordHeader(head);
    if (typeof h === 'string') throw new Error(`segment ${segment} at ${offset}: ${h}`);
    const payload = Buffer.alloc(h.storedLength);
    if (h.storedLength) readSync(fd, payload, 0, h.storedLength, offset + RECORD_HEADER_SIZE);
    out.appendRaw(head, payload);
  };

  const r = await app.replaceSegments(() => segmentsToRewrite(app, plan), async (out, rewritten) => {
    // Read once the swap holds the segments: another thinning (the space guard's, beside a
    // scheduled one) may have moved every record while this one waited for it.
    const commits = db.prepare('SELECT * FROM commits ORDER BY seq').all() as CommitRow[];
    const total = commits.length;
    const prevKept = new Map<number, number>();
    /** Per disk, the removed commits since its last kept point. */
    const pendingRun = new Map<number, CommitRow[]>();
    /** Copies the batch's records that lie in rewritten segments; the others stay where they are. */
    const copyBatch = (b: CommitRow) => {
      for (const w of writesOf.all(b.disk, b.batch_start, b.seq) as Array<{ seq: number; segment: number; rec_offset: number }>) {
        if (rewritten.has(Math.abs(w.segment))) copy(out, w.segment, w.rec_offset);
      }
      if (rewritten.has(b.segment)) copy(out, b.segment, b.rec_offset);
    };
    let done = 0;
    for (const c of commits) {
      onProgress?.({ done: ++done, total });
      const disk = app.catalog.state.disks.get(c.disk) ?? app.catalog.state.removedDisks.get(c.disk);
      if (!disk || dropped.has(c.disk)) continue;
      if (removed.has(c.seq)) {
        pendingRun.set(c.disk, [...(pendingRun.get(c.disk) ?? []), c]);
        continue;
      }
      const from = prevKept.get(c.disk) ?? 0;
      prevKept.set(c.disk, c.seq);
      const run = pendingRun.get(c.disk);
      pendingRun.delete(c.disk);
      if (run) writeMerged(app, out, disk, from, c, runWrites, copy);
      else copyBatch(c);
    }
  });
  return { bytesRewritten: r.bytesWritten, segmentsBefore, segmentsAfter: app.catalog.state.liveSegments().length };
}

/** What decides the segments a thinning rewrites: its removed points and dropped disks (a ThinPlan is one). */
export interface RewriteScope {
  disks: Array<{ removed: Array<{ seq: number }> }>;
  droppedDisks: number[];
}

/**
 * The live segments a plan rewrites: those holding a removed batch, the kept batch it
 * merges into, or a dropped disk. Thinning needs about their size in free space while it
 * runs (the old ones go only once the new ones are live), so the space guard asks first.
 */
export function segmentsToRewrite(app: Appliance, plan: RewriteScope): number[] {
  const removed = new Set(plan.disks.flatMap((d) => d.removed.map((r) => r.seq)));
  const dropped = new Set(plan.droppedDisks);
  const db = app.index.db;
  const writesOf = db.prepare('SELECT DISTINCT segment FROM writes WHERE disk = ? AND seq >= ? AND seq < ?');
  const touched = new Set<number>();
  const batchSegments = (b: CommitRow) => {
    touched.add(b.segment);
    for (const w of writesOf.all(b.disk, b.batch_start, b.seq) as Array<{ segment: number }>) touched.add(Math.abs(w.segment));
  };
  const inRun = new Set<number>();
  const merging = new Set<number>(dropped);
  for (const c of db.prepare('SELECT * FROM commits ORDER BY seq').iterate() as IterableIterator<CommitRow>) {
    if (dropped.has(c.disk) || removed.has(c.seq)) {
      batchSegments(c);
      inRun.add(c.disk);
      merging.add(c.disk);
    } else if (inRun.delete(c.disk)) {
      batchSegments(c);
    }
  }
  // A merged point's range [first kept seq, seq) spans the seqs of any batch of its disk
  // that never committed (a crash, an aborted pass): records of one left in a live segment
  // would become part of that point. Their segments are rewritten too, without them.
  for (const id of app.index.lostSegments(merging)) touched.add(id);
  return app.catalog.state.liveSegments().map((s) => s.id).filter((id) => touched.has(id));
}

/** Bytes of the segments a plan rewrites: an upper bound of the room its thinning needs. */
export function rewriteBytes(app: Appliance, plan: RewriteScope): number {
  return segmentsToRewrite(app, plan).reduce((n, id) => n + statSync(segmentPath(app.dir, id)).size, 0);
}

/**
 * Writes the merged batch of kept point `c`: of every write record since the previous kept
 * point `from` (the removed batches' and c's own), the ones the image at `c` still reads
 * from — found through the time map, no data read — copied as they are, in seq order,
 * then c's commit record anew (first seq, flags | thinned). Records wholly overwritten
 * within the run are dropped: that is the space thinning frees. Seqs stay as they were,
 * so every later point reads exactly as before.
 */
function writeMerged(
  app: Appliance,
  out: SegmentWriter,
  disk: DiskRecord,
  from: number,
  c: CommitRow,
  runWrites: { all(...a: unknown[]): unknown[] },
  copy: (out: SegmentWriter, segment: number, offset: number) => void,
): void {
  const records = runWrites.all(disk.id, from, c.seq) as Array<{ seq: number; segment: number; rec_offset: number; start: number; end: number }>;
  const key = (segment: number, offset: number) => `${Math.abs(segment)}:${offset}`;
  const inRun = new Map(records.map((r) => [key(r.segment, r.rec_offset), r]));
  const survivors = new Map<string, (typeof records)[number]>();
  for (const e of app.timeline.writtenBetween(disk, from, c.seq)) {
    for (let at = e.offset; at < e.offset + e.length; at += 1 << 20) {
      for (const p of app.index.lookup(disk.id, c.seq, at, Math.min(e.offset + e.length, at + (1 << 20)))) {
        const k = key(p.segment, p.rec_offset);
        const r = inRun.get(k);
        if (r) survivors.set(k, r);
      }
    }
  }
  const kept = [...survivors.values()].sort((a, b) => a.seq - b.seq);
  let bytes = 0;
  for (const r of kept) {
    copy(out, r.segment, r.rec_offset);
    bytes += r.end - r.start;
  }
  const body = c.label ? Buffer.from(JSON.stringify({ label: c.label })) : Buffer.alloc(0);
  out.append({ type: RecordType.Commit, diskId: disk.id, seq: c.seq, timeUs: c.time_us, a: kept.length ? kept[0]!.seq : c.seq, b: c.flags | CommitFlag.Thinned, c: bytes }, body, false);
}
