import { existsSync, fstatSync } from 'node:fs';
import { FILE_HEADER_SIZE, RecordFlag, RecordType } from '../format/constants.js';
import type { PayloadCodec } from '../format/payload-codec.js';
import { associatedData } from '../format/segment-record.js';
import type { CatalogState } from '../store/catalog-state.js';
import { scanSegment, segmentPath, type ScanEnd, type SegmentFiles } from '../store/segment-file.js';
import type { CommitRow, IndexDb, Watermark } from './index-db.js';

export interface ReplayProblem {
  segment: number;
  at: number;
  reason: string;
}

export interface ReplayResult {
  /**
   * The open segment and where its valid records end (a writer continues there), or
   * `sealed` when it ends in a seal record: a crash cut its rotation short before the
   * catalog recorded the seal, and nothing may be appended after a seal.
   */
  open?: { id: number; end: number; tail: ScanEnd; sealed: boolean };
  problems: ReplayProblem[];
  maxSeq: number;
  maxTimeUs: number;
}

/** How far a replay is, in bytes: of segments scanned, then of the commits' writes applied to the time map (the longer part). */
export type ReplayProgress = (step: 'scan' | 'apply', done: number, total: number) => void;

/**
 * Brings the index up to date with the segments: every record after the index's watermark
 * is staged (writes) or applied (commits). Used when a writer opens (after a crash too),
 * when a reader finds no writer and a stale index, and by rebuild-index (from nothing).
 */
export function replaySegments(
  state: CatalogState,
  files: SegmentFiles,
  index: IndexDb,
  codec: PayloadCodec,
  onProgress?: ReplayProgress,
): ReplayResult {
  const result: ReplayResult = { problems: [], maxSeq: index.maxSeq, maxTimeUs: Number(index.meta('max_time_us') ?? 0) };
  const wm = index.watermark;
  const live = state.liveSegments();
  const BATCH = 20_000;
  // Commits are applied in seq order once every segment is read: after a thinning, a
  // segment with a higher id can hold older seqs than one it did not rewrite.
  const commits: CommitRow[] = [];
  let last: Watermark | undefined;
  const db = index.db;
  // Inside a caller's transaction (thinning's rebuild) all of it commits at once; alone,
  // it commits every BATCH records so a long replay does not hold one huge transaction.
  const chunked = !db.inTransaction;
  const todo = live.filter((seg) => seg.id >= wm.segment);
  const startOf = (id: number) => (id === wm.segment ? Math.max(wm.offset, FILE_HEADER_SIZE) : FILE_HEADER_SIZE);
  // Progress in segment bytes scanned, when asked for (a rebuild of a long history).
  const sizes = onProgress ? todo.map((seg) => (existsSync(segmentPath(files.dir, seg.id)) ? Math.max(0, fstatSync(files.fd(seg.id)).size - startOf(seg.id)) : 0)) : [];
  const total = sizes.reduce((a, b) => a + b, 0);
  let before = 0;
  onProgress?.('scan', 0, total);
  for (const [i, seg] of todo.entries()) {
    if (!existsSync(segmentPath(files.dir, seg.id))) {
      result.problems.push({ segment: seg.id, at: 0, reason: 'segment file is missing' });
      continue;
    }
    const from = startOf(seg.id);
    let end: ScanEnd = { kind: 'end', at: from };
    let n = 0;
    let sealAt: number | undefined;
    if (chunked) db.exec('BEGIN');
    try {
      for (const r of scanSegment(files.fd(seg.id), from, { verifyPayloads: false }, (e) => (end = e))) {
        const h = r.header;
        if (h.seq > result.maxSeq) result.maxSeq = h.seq;
        if (h.type === RecordType.Write) {
          index.stage({ seq: h.seq, disk: h.diskId, start: h.a, end: h.a + h.b, segment: h.flags & RecordFlag.Zero ? -seg.id : seg.id, recOffset: r.offset });
          index.noteSeq(h.seq);
        } else if (h.type === RecordType.Commit) {
          const label = r.payload && r.payload.length ? decodeCommitBody(r.payload, h.flags, r.headerBytes, codec) : null;
          commits.push({ seq: h.seq, disk: h.diskId, time_us: h.timeUs, flags: h.b, label, batch_start: h.a, bytes: h.c, segment: seg.id, rec_offset: r.offset });
          if (h.timeUs > result.maxTimeUs) result.maxTimeUs = h.timeUs;
        } else if (h.type === RecordType.Seal) {
          sealAt = r.offset;
        }
        if (++n % BATCH === 0) {
          if (chunked) db.exec('COMMIT; BEGIN');
          onProgress?.('scan', before + r.offset - from, total);
        }
      }
      if (chunked) db.exec('COMMIT');
    } catch (e) {
      if (chunked && db.inTransaction) db.exec('ROLLBACK');
      throw e;
    }
    // Stop before a seal record, so the next replay sees it again (and still knows the
    // segment is sealed should the catalog not say so yet).
    last = { segment: seg.id, offset: sealAt ?? (end as ScanEnd).at };
    const e = end as ScanEnd;
    if (seg.state === 'open') result.open = { id: seg.id, end: e.at, tail: e, sealed: sealAt !== undefined };
    else if (e.kind !== 'end') result.problems.push({ segment: seg.id, at: e.at, reason: e.reason });
    before += sizes[i] ?? 0;
    onProgress?.('scan', before, total);
  }
  commits.sort((a, b) => a.seq - b.seq);
  const applyTotal = onProgress ? commits.reduce((sum, c) => sum + c.bytes, 0) : 0;
  let applied = 0;
  onProgress?.('apply', 0, applyTotal);
  for (let i = 0; i < commits.length; i += BATCH) {
    db.transaction(() => {
      for (const c of commits.slice(i, i + BATCH)) {
        index.applyCommit(c, []);
        applied += c.bytes;
        onProgress?.('apply', applied, applyTotal);
      }
    })();
  }
  // Only now may the watermark move: everything before it is applied or staged.
  db.transaction(() => {
    if (last) index.setWatermark(last);
    index.setMeta('max_time_us', result.maxTimeUs);
  })();
  return result;
}

/** A commit record's payload: empty, or JSON `{"label": "..."}` (encrypted like any payload). */
export function decodeCommitBody(payload: Buffer, flags: number, headerBytes: Buffer, codec: PayloadCodec): string | null {
  try {
    const plain = flags & RecordFlag.Encrypted ? codec.open(payload, associatedData(headerBytes), () => 'commit record') : payload;
    const body = JSON.parse(plain.toString('utf8')) as { label?: string };
    return body.label ?? null;
  } catch {
    return null;
  }
}
