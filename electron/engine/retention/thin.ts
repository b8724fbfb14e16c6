import { readSync } from 'node:fs';
import type { Appliance } from '../appliance.js';
import { CommitFlag, MAX_RECORD_LENGTH, RECORD_HEADER_SIZE, RecordType } from '../format/constants.js';
import type { CommitRow } from '../index/index-db.js';
import type { DiskRecord } from '../store/catalog-state.js';
import type { SegmentWriter } from '../store/segment-writer.js';
import { decodeRecordHeader } from '../format/segment-record.js';
import { keptPoints, policyFromJson, type RetentionPolicy } from './policy.js';

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
  disks: DiskThinning[];
  /** Disks unprotected with their history given up: all their records go. */
  droppedDisks: number[];
  removedPoints: number;
  bytesFreed: number;
}

export function policyOf(app: Appliance, disk: DiskRecord): RetentionPolicy {
  return policyFromJson(app.setting(`retention:${disk.id}`));
}

/** Which points each disk's policy lets go now (nothing is changed). */
export function planThinning(app: Appliance, nowUs = Date.now() * 1000, override?: (d: DiskRecord) => Set<number> | undefined): ThinPlan {
  const disks: DiskThinning[] = [];
  for (const disk of app.disks()) {
    const points = app.timeline.points(disk);
    const pinned = new Set(app.bookmarks(disk).map((b) => b.seq));
    const kept = override?.(disk) ?? keptPoints(points, policyOf(app, disk), nowUs, pinned);
    const removed = points.filter((p) => !kept.has(p.seq)).map((p) => ({ seq: p.seq, timeUs: p.timeUs }));
    disks.push({ disk: disk.name, diskId: disk.id, points: points.length, removed, bytesFreed: freedBytes(app, disk, points.map((p) => p.seq), kept) });
  }
  const dropped = [...app.catalog.state.removedDisks.values()].filter((d) => d.historyDeleted).map((d) => d.id);
  const droppedWithData = dropped.filter((id) => app.index.db.prepare('SELECT 1 FROM writes WHERE disk = ? LIMIT 1').get(id));
  return {
    nowUs,
    disks,
    droppedDisks: droppedWithData,
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
 * removed ones gets one merged batch — the bytes of its image over every range written
 * since the previous kept point (newest wins) — under its own seq, so its image and every
 * later one read exactly as before. The new segments replace the old ones through one
 * catalog manifest record (see swapSegments), so a crash leaves the old state or the new.
 */
export async function executeThinning(app: Appliance, plan: ThinPlan, onProgress?: (p: ThinProgress) => void): Promise<{ bytesRewritten: number; segmentsBefore: number; segmentsAfter: number }> {
  const removed = new Set(plan.disks.flatMap((d) => d.removed.map((r) => r.seq)));
  const dropped = new Set(plan.droppedDisks);
  const db = app.index.db;
  const commits = db.prepare('SELECT * FROM commits ORDER BY seq').all() as CommitRow[];
  const writesOf = db.prepare('SELECT seq, segment, rec_offset FROM writes WHERE disk = ? AND seq >= ? AND seq < ? ORDER BY seq');
  const seqsOf = db.prepare('SELECT seq FROM writes WHERE disk = ? AND seq > ? AND seq < ? ORDER BY seq');
  const total = commits.length;
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

  const batchSegments = (b: CommitRow, into: Set<number>) => {
    into.add(b.segment);
    for (const w of writesOf.all(b.disk, b.batch_start, b.seq) as Array<{ segment: number }>) into.add(Math.abs(w.segment));
  };
  /** The segments holding a removed batch, the kept batch it merges into, or a dropped disk. */
  const choose = () => {
    const touched = new Set<number>();
    const inRun = new Set<number>();
    for (const c of commits) {
      if (dropped.has(c.disk) || removed.has(c.seq)) {
        batchSegments(c, touched);
        inRun.add(c.disk);
      } else if (inRun.delete(c.disk)) {
        batchSegments(c, touched);
      }
    }
    return app.catalog.state.liveSegments().map((s) => s.id).filter((id) => touched.has(id));
  };

  const r = await app.replaceSegments(choose, async (out, rewritten) => {
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
      if (run && writeMerged(app, out, disk, from, c, seqsOf, run.map((x) => x.seq))) continue;
      // Nothing to merge, or too few seqs to renumber the merged writes: keep the run as it is.
      for (const b of run ?? []) copyBatch(b);
      copyBatch(c);
    }
  });
  return { bytesRewritten: r.bytesWritten, segmentsBefore, segmentsAfter: app.catalog.state.liveSegments().length };
}

/** Writes the merged batch of point `c` (all written since `from`); false when seqs run short. */
function writeMerged(
  app: Appliance,
  out: SegmentWriter,
  disk: DiskRecord,
  from: number,
  c: CommitRow,
  seqsOf: { all(...a: unknown[]): unknown[] },
  removedOfDisk: number[],
): boolean {
  const extents = app.timeline.writtenBetween(disk, from, c.seq);
  // Seqs to reuse: this disk's own writes and removed commits between the two kept points
  // (never another disk's: two records may not share a seq).
  const pool = (seqsOf.all(disk.id, from, c.seq) as Array<{ seq: number }>).map((r) => r.seq);
  for (const s of removedOfDisk) if (s > from && s < c.seq) pool.push(s);
  pool.sort((a, b) => a - b);
  const needed = extents.reduce((n, e) => n + Math.ceil(e.length / MAX_RECORD_LENGTH), 0);
  if (needed > pool.length) return false;
  const image = app.image(disk, c.seq);
  let i = 0;
  let bytes = 0;
  for (const e of extents) {
    for (let at = e.offset; at < e.offset + e.length; at += MAX_RECORD_LENGTH) {
      const len = Math.min(MAX_RECORD_LENGTH, e.offset + e.length - at);
      out.append({ type: RecordType.Write, diskId: disk.id, seq: pool[i++]!, timeUs: c.time_us, a: at, b: len, c: 0 }, image.readSync(at, len), true);
      bytes += len;
    }
  }
  const body = c.label ? Buffer.from(JSON.stringify({ label: c.label })) : Buffer.alloc(0);
  out.append({ type: RecordType.Commit, diskId: disk.id, seq: c.seq, timeUs: c.time_us, a: needed ? pool[0]! : c.seq, b: c.flags | CommitFlag.Thinned, c: bytes }, body, false);
  return true;
}
