import { closeSync, fdatasyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import {
  dirBytes,
  fmtBytes,
  fmtMBps,
  fmtRatio,
  GiB,
  KiB,
  log,
  mbps,
  MiB,
  now,
  pool,
  prng,
  report,
  scaled,
  slice,
  tempDir,
  verdict,
  type DataKind,
} from './measure.js';

/**
 * Commit throughput: captured writes of one size and pattern, 16 MiB per commit, into a
 * fresh appliance, the next batch written while the previous one syncs; beside the same bytes pwritten to a plain file with one fdatasync per
 * batch — what the disk itself does with the same workload.
 */

export const PASSPHRASE = 'bench passphrase, not secret';
const DISK_SIZE = GiB;
const BATCH_BYTES = 16 * MiB;
const TARGET_MBPS = 400;
/** Runs of each 1 MiB case (the target's), best kept; smaller writes run once. */
const LARGE_RUNS = 2;

interface Workload {
  writeSize: number;
  pattern: 'seq' | 'random';
  data: DataKind;
  total: number;
}

/** Offsets of every write, batch by batch (the same list feeds both sides). */
function offsets(w: Workload): number[] {
  const n = w.total / w.writeSize;
  const rand = prng(w.writeSize + (w.pattern === 'seq' ? 1 : 2));
  const slots = DISK_SIZE / w.writeSize;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = (w.pattern === 'seq' ? i % slots : Math.floor(rand() * slots)) * w.writeSize;
  return out;
}

/**
 * `commitMs`: time awaiting a commit (fdatasync + index), the rest is inside lend() and
 * drained() (encode, compress, checksum, buffering). Like a capture writer (track mode,
 * TrackCapture), the producer begins the next batch while the previous one syncs: at most
 * two batches in flight, memory bounded by drained().
 */
async function ours(w: Workload, offs: number[], encrypted: boolean): Promise<{ ms: number; commitMs: number; stored: number }> {
  const dir = tempDir('commit');
  try {
    const passphrase = encrypted ? PASSPHRASE : undefined;
    await Appliance.init(dir.path, { passphrase });
    const app = await Appliance.open(dir.path, { writable: true, passphrase });
    const p = pool(w.data);
    const perBatch = BATCH_BYTES / w.writeSize;
    let ms: number;
    let commitMs = 0;
    let storedBefore = 0;
    try {
      const d = app.addDisk({ name: 'bench', source: '/dev/null', size: DISK_SIZE, mode: 'scan', blockSize: 64 * KiB, identity: {} });
      // Steady state, as in a long-running writer: one untimed batch starts the encoder
      // threads (and their compiled code) first. Its bytes are not counted as stored.
      const warm = app.beginBatch(d);
      for (let i = 0; i < BATCH_BYTES / MiB; i++) warm.lend(i * MiB, slice(p, i, MiB));
      await warm.commit();
      storedBefore = dirBytes(join(dir.path, 'segments'));
      const t0 = now();
      let previous: Promise<unknown> | undefined;
      const awaitCommit = async (c: Promise<unknown> | undefined) => {
        const c0 = now();
        await c;
        commitMs += now() - c0;
      };
      for (let i = 0; i < offs.length; ) {
        const b = app.beginBatch(d);
        // Lent, as scan and track capture lend their read buffers: no copy on the event loop.
        for (const end = Math.min(offs.length, i + perBatch); i < end; i++) b.lend(offs[i]!, slice(p, i, w.writeSize));
        await b.drained();
        const committing = b.commit();
        committing.catch(() => undefined); // awaited below, after the next batch
        await awaitCommit(previous);
        previous = committing;
      }
      await awaitCommit(previous);
      ms = now() - t0;
    } finally {
      app.close();
    }
    return { ms, commitMs, stored: dirBytes(join(dir.path, 'segments')) - storedBefore };
  } finally {
    dir.remove();
  }
}

/** The same writes with pwrite into a plain file, one fdatasync per batch. */
function raw(w: Workload, offs: number[]): number {
  const dir = tempDir('commit-raw');
  const fd = openSync(join(dir.path, 'disk.img'), 'w+');
  try {
    ftruncateSync(fd, DISK_SIZE);
    const p = pool(w.data);
    const perBatch = BATCH_BYTES / w.writeSize;
    const t0 = now();
    for (let i = 0; i < offs.length; ) {
      for (const end = Math.min(offs.length, i + perBatch); i < end; i++) {
        const data = slice(p, i, w.writeSize);
        writeSync(fd, data, 0, data.length, offs[i]!);
      }
      fdatasyncSync(fd);
    }
    return now() - t0;
  } finally {
    closeSync(fd);
    dir.remove();
  }
}

export async function benchCommit(): Promise<void> {
  // Small writes cost per write, not per byte: fewer bytes keep the suite within minutes.
  const sizes = [
    { writeSize: 4 * KiB, total: scaled(64 * MiB, 16 * MiB) },
    { writeSize: 64 * KiB, total: scaled(128 * MiB, 16 * MiB) },
    { writeSize: MiB, total: scaled(256 * MiB, 16 * MiB) },
  ];
  const rows: Array<Array<string | number>> = [];
  const data: Record<string, Record<string, number>> = {};
  let worstText = Infinity;
  /** Per kind, the slowest 1 MiB case: the throughput the target speaks of. */
  const large: Partial<Record<DataKind, number>> = {};
  for (const kind of ['text', 'files', 'random'] as DataKind[]) {
    for (const { writeSize, total } of sizes) {
      // Real files only at the large sizes: the small ones measure per-write cost, which text shows.
      if (kind === 'files' && writeSize < MiB) continue;
      for (const pattern of ['seq', 'random'] as const) {
        const w: Workload = { writeSize, pattern, data: kind, total };
        const offs = offsets(w);
        // The target's cases run twice, each side, in turn: one run of 256 MiB is under a
        // second, and this VM's speed moves by a quarter from one second to the next.
        const runs = writeSize === MiB ? LARGE_RUNS : 1;
        let rawMs = Infinity;
        const best: Array<Awaited<ReturnType<typeof ours>> | undefined> = [undefined, undefined];
        for (let run = 0; run < runs; run++) {
          rawMs = Math.min(rawMs, raw(w, offs));
          for (const encrypted of [false, true]) {
            const r = await ours(w, offs, encrypted);
            const i = encrypted ? 1 : 0;
            if (!best[i] || r.ms < best[i]!.ms) best[i] = r;
          }
        }
        const rawMBps = mbps(total, rawMs);
        for (const encrypted of [false, true]) {
          const r = best[encrypted ? 1 : 0]!;
          const ourMBps = mbps(total, r.ms);
          const label = `${kind} ${fmtBytes(writeSize)} ${pattern}${encrypted ? ' enc' : ''} (${fmtBytes(total)})`;
          if (kind === 'text') worstText = Math.min(worstText, ourMBps);
          if (writeSize === MiB) large[kind] = Math.min(large[kind] ?? Infinity, ourMBps);
          const inCommit = r.commitMs / r.ms;
          rows.push([label, fmtMBps(ourMBps), fmtMBps(rawMBps), fmtRatio(ourMBps, rawMBps), `${(r.stored / total).toFixed(2)}`, `${Math.round(inCommit * 100)}%`]);
          data[label] = { oursMBps: ourMBps, rawMBps, storedRatio: r.stored / total, ms: r.ms, commitMs: r.commitMs };
          log(`  … ${label}: ${fmtMBps(ourMBps)}`);
        }
      }
    }
  }
  report({
    title: `Commit throughput (${fmtBytes(BATCH_BYTES)} per commit, 1 GiB disk)`,
    columns: ['data, write size, pattern (volume)', 'ours', 'raw file', 'ours/raw', 'stored/logical', 'in commit()'],
    rows,
    data,
    notes: [
      'raw file: the same pwrites to a plain file, one fdatasync per batch; ours: capture batch + durable commit.',
      `1 MiB cases: the best of ${LARGE_RUNS} runs on each side, run in turn; smaller writes: one run.`,
      'ours: like a running capture writer — encoder threads already started (one untimed batch first), the next batch written while the previous commit syncs (two in flight); in commit(): share of our time awaiting a commit (encoding still queued, fdatasync, index).',
      'text: independent random words (zstd-1 2.5×, its slowest kind of input); files: the project\'s node_modules, real JavaScript, JSON and native libraries (zstd-1 2.9×); see measure.ts.',
      `target: commit ≥ ${TARGET_MBPS} MB/s on compressible data, 1 MiB writes (slowest of seq/random, plain/encrypted) — ` +
        `files ${fmtMBps(large.files ?? 0)}: ${verdict((large.files ?? 0) >= TARGET_MBPS)}; text ${fmtMBps(large.text ?? 0)}: ${verdict((large.text ?? 0) >= TARGET_MBPS)}; ` +
        `slowest text case of any size ${fmtMBps(worstText)} (4 KiB writes cost per write: compare the raw file's column)`,
    ],
  });
}
