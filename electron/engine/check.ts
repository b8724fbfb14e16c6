import { existsSync, statSync } from 'node:fs';
import { RecordType } from './format/constants.js';
import { associatedData } from './format/segment-record.js';
import type { Appliance } from './appliance.js';
import { scanSegment, segmentPath, type ScanEnd } from './store/segment-file.js';
import { ChronodiskError } from './errors.js';
import { WriterLock } from './store/writer-lock.js';

export interface CheckProblem {
  /** 'catalog', or the segment id. */
  where: 'catalog' | number;
  at: number;
  reason: string;
  /** Points whose images need the damaged bytes: per disk, every point from `fromSeq` on. */
  affects: Array<{ disk: string; fromSeq: number; points: number }>;
}

export interface CheckReport {
  ok: boolean;
  readData: boolean;
  segments: number;
  records: number;
  bytesVerified: number;
  commits: number;
  problems: CheckProblem[];
  /**
   * Expected and never served: a torn tail the writer cuts at its next start (after a
   * crash), or the records a running writer is still writing (checked up to them).
   */
  notes: string[];
}

export interface CheckOptions {
  readData: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Verifying runs in slices this long when it shares its thread (checkApplianceInTurns). */
const TURN_MS = 20;

/**
 * Verifies an appliance: header, catalog records, every segment's header and record
 * chain; with `readData`, every payload's checksum, and that it decrypts and decompresses.
 * Read-only: it never repairs.
 */
export function checkAppliance(app: Appliance, options: CheckOptions): CheckReport {
  const run = checkRun(app, options);
  for (;;) {
    const step = run.next();
    if (step.done) return step.value;
  }
}

/**
 * checkAppliance beside other work on the same thread (the service's writer): the event
 * loop gets a turn every few milliseconds, and an aborted `signal` stops the check there.
 * A segment that thinning retires meanwhile is no longer checked, not reported missing.
 */
export async function checkApplianceInTurns(app: Appliance, options: CheckOptions & { signal?: AbortSignal }): Promise<CheckReport> {
  const run = checkRun(app, options);
  let turn = performance.now();
  for (;;) {
    const step = run.next();
    if (step.done) return step.value;
    if (performance.now() - turn >= TURN_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      options.signal?.throwIfAborted();
      turn = performance.now();
    }
  }
}

/** The check, one record at a time (it yields after each). */
function* checkRun(app: Appliance, options: CheckOptions): Generator<void, CheckReport> {
  const report: CheckReport = { ok: true, readData: options.readData, segments: 0, records: 0, bytesVerified: 0, commits: 0, problems: [], notes: [] };
  // A writer cuts torn tails when it starts: beside a running one, a tail is what it is writing now.
  const writer = WriterLock.liveHolder(app.dir);
  const why = writer ? `being written by ${writer.command}, pid ${writer.pid}: checked up to there` : 'a crash; the writer cuts it at its next start';
  const cat = app.catalog.readAll();
  if (cat.tail.kind === 'torn') report.notes.push(`the catalog has a torn tail of ${cat.tail.bytes} bytes at byte ${cat.tail.at} (${why})`);
  if (cat.tail.kind === 'damaged') report.problems.push({ where: 'catalog', at: cat.tail.at, reason: cat.tail.reason, affects: [] });

  const live = app.catalog.state.liveSegments();
  const total = live.reduce((n, s) => n + (existsSync(segmentPath(app.dir, s.id)) ? statSync(segmentPath(app.dir, s.id)).size : 0), 0);
  let done = 0;
  const stillLive = (id: number) => (app.catalog.state.segments.get(id)?.state ?? 'retired') !== 'retired';
  for (const seg of live) {
    if (!stillLive(seg.id)) continue; // retired by a thinning since the check began
    report.segments++;
    const path = segmentPath(app.dir, seg.id);
    if (!existsSync(path)) {
      report.problems.push({ where: seg.id, at: 0, reason: 'segment file is missing', affects: affectedFrom(app, seg.id, 0) });
      continue;
    }
    const headerProblem = app.files.checkHeader(seg.id, Buffer.from(app.header.id.replace(/-/g, ''), 'hex'));
    if (headerProblem) {
      report.problems.push({ where: seg.id, at: 0, reason: `segment header: ${headerProblem}`, affects: affectedFrom(app, seg.id, 0) });
      continue;
    }
    let end: ScanEnd | undefined;
    let sealed = false;
    for (const r of scanSegment(app.files.fd(seg.id), 64, { verifyPayloads: options.readData }, (e) => (end = e))) {
      report.records++;
      if (r.header.type === RecordType.Commit) report.commits++;
      if (r.header.type === RecordType.Seal) sealed = true;
      if (options.readData && r.header.type === RecordType.Write && r.payload) {
        try {
          app.codec.unpack(r.payload, r.header.flags, r.header.b, associatedData(r.headerBytes), () => `segment ${seg.id} at byte ${r.offset}`);
          report.bytesVerified += r.header.b;
        } catch (e) {
          if (!(e instanceof ChronodiskError)) throw e;
          report.problems.push({ where: seg.id, at: r.offset, reason: e.message, affects: affectedFrom(app, seg.id, r.offset) });
        }
      }
      done = Math.max(done, r.offset);
      options.onProgress?.(done, total);
      yield;
    }
    const e = end as ScanEnd | undefined;
    if (e && e.kind !== 'end') {
      if (seg.state === 'open' && e.kind === 'torn') {
        report.notes.push(`segment ${seg.id} has a torn tail at byte ${e.at} (${why}; never served)`);
      } else {
        report.problems.push({ where: seg.id, at: e.at, reason: e.reason, affects: affectedFrom(app, seg.id, e.at) });
      }
    } else if (seg.state === 'sealed' && !sealed) {
      report.problems.push({ where: seg.id, at: e?.at ?? 0, reason: 'sealed segment has no seal record (truncated?)', affects: affectedFrom(app, seg.id, e?.at ?? 0) });
    } else if (seg.state === 'sealed' && seg.size !== undefined && e && statSync(path).size !== seg.size) {
      report.problems.push({ where: seg.id, at: seg.size, reason: `segment size ${statSync(path).size} differs from the ${seg.size} bytes the catalog recorded`, affects: [] });
    }
  }
  report.ok = report.problems.length === 0;
  return report;
}

/** One line for a damaged place: where, why, and which points need its bytes. */
export function describeProblem(p: CheckProblem): string {
  const where = p.where === 'catalog' ? 'catalog' : `segment ${p.where}`;
  const affects = p.affects.map((a) => `${a.disk} from seq ${a.fromSeq} (${a.points} later points)`).join('; ');
  return `${where} at byte ${p.at}: ${p.reason}${affects ? ` — affects ${affects}` : ''}`;
}

/** Points that read records of `segment` at or after `offset`: per disk, from its first such write on. */
function affectedFrom(app: Appliance, segment: number, offset: number): CheckProblem['affects'] {
  const rows = app.index.db
    // Zero records are filed under the negated segment id (reads skip them), but they are in the segment all the same.
    .prepare('SELECT disk, min(seq) AS seq FROM writes WHERE segment IN (?, ?) AND rec_offset >= ? GROUP BY disk')
    .all(segment, -segment, offset) as Array<{ disk: number; seq: number }>;
  return rows.map((r) => {
    const disk = app.catalog.state.disks.get(r.disk);
    const points = (app.index.db.prepare('SELECT count(*) AS n FROM commits WHERE disk = ? AND seq > ?').get(r.disk, r.seq) as { n: number }).n;
    return { disk: disk?.name ?? `#${r.disk}`, fromSeq: r.seq, points };
  });
}
