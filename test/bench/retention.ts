import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, fsyncSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { SEGMENTS_DIR } from '../../electron/engine/format/constants.js';
import { executeThinning, planThinning } from '../../electron/engine/retention/thin.js';
import { PASSPHRASE } from './appliance.js';
import { dirBytes, fmtBytes, fmtMBps, fmtMs, fmtRatio, KiB, log, mbps, MiB, now, pool, prng, report, scaled, slice, tempDir } from './measure.js';

/**
 * Thinning throughput: a skewed history (90% of writes on the first 1% of the disk, a
 * database or log rewritten again and again, so most of what thinning removes is
 * overwritten data) is thinned to one point in `every`;
 * MB/s of segments rewritten (executeThinning's bytesRewritten) and of segments taken in
 * (their sizes before), beside copying the same segment files with fs.copyFile + fsync —
 * what the drive does with the bytes alone, measured in the same run on the same files.
 */

const DISK_SIZE = 256 * MiB;
const BATCH_BYTES = MiB;

interface Case {
  label: string;
  encrypted: boolean;
  /** Keep one point in this many (and the latest). */
  every: number;
}

/** The history: batches of 4–64 KiB writes, text-like and random, 1 MiB per batch. */
async function buildHistory(dir: string, encrypted: boolean, total: number): Promise<void> {
  const passphrase = encrypted ? PASSPHRASE : undefined;
  await Appliance.init(dir, { passphrase });
  const app = await Appliance.open(dir, { writable: true, passphrase });
  try {
    const d = app.addDisk({ name: 'bench', source: '/dev/null', size: DISK_SIZE, mode: 'scan', blockSize: 64 * KiB, identity: {} });
    const rand = prng(7);
    const text = pool('text');
    const random = pool('random');
    let written = 0;
    for (let i = 0; written < total; ) {
      const b = app.beginBatch(d);
      for (let inBatch = 0; inBatch < BATCH_BYTES; i++) {
        const size = (1 + Math.floor(rand() * 16)) * 4 * KiB;
        const span = rand() < 0.9 ? DISK_SIZE / 100 : DISK_SIZE;
        const offset = Math.floor((rand() * (span - size)) / 4096) * 4096;
        b.write(offset, slice(rand() < 0.5 ? text : random, i, size));
        inBatch += size;
      }
      written += BATCH_BYTES;
      await b.commit();
    }
  } finally {
    app.close();
  }
}

/** Copies every segment file with fs.copyFile, then fsyncs each copy and the directory. */
function copySegments(from: string, to: string): number {
  mkdirSync(to, { recursive: true });
  const names = readdirSync(from);
  const t0 = now();
  for (const n of names) {
    copyFileSync(join(from, n), join(to, n));
    const fd = openSync(join(to, n), 'r');
    fsyncSync(fd);
    closeSync(fd);
  }
  const dfd = openSync(to, 'r');
  fsyncSync(dfd);
  closeSync(dfd);
  return now() - t0;
}

interface Thinned {
  ms: number;
  buildMs: number;
  planMs: number;
  bytesRewritten: number;
  segmentBytesBefore: number;
  segmentBytesAfter: number;
  pointsBefore: number;
  pointsAfter: number;
  removed: number;
}

async function thin(dir: string, c: Case): Promise<Thinned> {
  const passphrase = c.encrypted ? PASSPHRASE : undefined;
  const segmentBytesBefore = dirBytes(join(dir, SEGMENTS_DIR));
  const app = await Appliance.open(dir, { writable: true, passphrase });
  try {
    const disk = app.disk('bench');
    const pointsBefore = app.timeline.count(disk);
    const p0 = now();
    const plan = planThinning(app, Date.now() * 1000, (d) => {
      const pts = app.timeline.points(d);
      return new Set(pts.filter((_, i) => i % c.every === c.every - 1 || i === pts.length - 1).map((p) => p.seq));
    });
    const planMs = now() - p0;
    let builtAt = 0;
    const t0 = now();
    const r = await executeThinning(app, plan, (p) => {
      if (p.done === p.total) builtAt = now();
    });
    const ms = now() - t0;
    return {
      ms,
      buildMs: builtAt - t0,
      planMs,
      bytesRewritten: r.bytesRewritten,
      segmentBytesBefore,
      segmentBytesAfter: dirBytes(join(dir, SEGMENTS_DIR)),
      pointsBefore,
      pointsAfter: app.timeline.count(disk),
      removed: plan.removedPoints,
    };
  } finally {
    app.close();
  }
}

export async function benchRetention(): Promise<void> {
  const total = scaled(256 * MiB, 8 * MiB);
  const cases: Case[] = [
    { label: 'keep 1 in 10', encrypted: false, every: 10 },
    { label: 'keep 1 in 2', encrypted: false, every: 2 },
    { label: 'keep 1 in 10, encrypted', encrypted: true, every: 10 },
  ];
  const rows: Array<Array<string | number>> = [];
  const data: Record<string, Record<string, number>> = {};
  const work = tempDir('retention');
  try {
    const pristine = new Map<boolean, string>();
    for (const encrypted of [false, true]) {
      const dir = join(work.path, encrypted ? 'pristine-enc' : 'pristine');
      const t0 = now();
      await buildHistory(dir, encrypted, total);
      log(`  … history${encrypted ? ' (encrypted)' : ''}: ${fmtBytes(total)} written in ${fmtMs(now() - t0)}, ${fmtBytes(dirBytes(join(dir, SEGMENTS_DIR)))} of segments`);
      pristine.set(encrypted, dir);
    }
    for (const c of cases) {
      const dir = join(work.path, 'thin');
      execFileSync('rm', ['-rf', dir]);
      execFileSync('cp', ['-a', pristine.get(c.encrypted)!, dir]);
      // The plain copy first, on the same files, so both read them from the same cache state.
      const copyMs = copySegments(join(dir, SEGMENTS_DIR), join(work.path, 'copy'));
      execFileSync('rm', ['-rf', join(work.path, 'copy')]);
      const t = await thin(dir, c);
      const copyMBps = mbps(t.segmentBytesBefore, copyMs);
      const outMBps = mbps(t.bytesRewritten, t.ms);
      const inMBps = mbps(t.segmentBytesBefore, t.ms);
      rows.push([
        c.label,
        `${t.pointsBefore} → ${t.pointsAfter}`,
        `${fmtBytes(t.segmentBytesBefore)} → ${fmtBytes(t.segmentBytesAfter)}`,
        fmtMBps(outMBps),
        fmtMBps(inMBps),
        fmtMBps(copyMBps),
        fmtRatio(inMBps, copyMBps),
        `${fmtMs(t.ms)} (${Math.round((100 * t.buildMs) / t.ms)}% build)`,
      ]);
      data[c.label] = { rewrittenMBps: outMBps, segmentsInMBps: inMBps, copyMBps, ms: t.ms, buildMs: t.buildMs, planMs: t.planMs, bytesRewritten: t.bytesRewritten, segmentBytesBefore: t.segmentBytesBefore, segmentBytesAfter: t.segmentBytesAfter, pointsRemoved: t.removed };
      log(`  … ${c.label}: ${fmtMBps(outMBps)} rewritten, ${fmtMBps(inMBps)} of segments taken in; copy ${fmtMBps(copyMBps)}`);
      execFileSync('rm', ['-rf', dir]);
    }
  } finally {
    work.remove();
  }
  report({
    title: `Thinning throughput (${fmtBytes(total)} of skewed writes on a ${fmtBytes(DISK_SIZE)} disk, ${fmtBytes(BATCH_BYTES)} per point)`,
    columns: ['case', 'points', 'segments', 'rewritten', 'segments in', 'copy', 'in/copy', 'thinning'],
    rows,
    data,
    notes: [
      'rewritten: executeThinning bytesRewritten / its wall time; segments in: segment bytes before / the same time.',
      'copy: the same segment files copied with fs.copyFile and fsynced (files and directory), in the same run, before thinning; both read them from the page cache.',
      'thinning: wall time of executeThinning (build = merging and copying records; the rest = manifest swap, deletes, index rebuild); plan time not included.',
    ],
  });
}
