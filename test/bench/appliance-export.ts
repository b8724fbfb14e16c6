import { createHash } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import {
  dirBytes,
  dropCaches,
  fmtMBps,
  fmtRatio,
  GiB,
  KiB,
  log,
  mbps,
  MiB,
  now,
  pool,
  report,
  scaled,
  slice,
  tempDir,
  verdict,
  type DataKind,
} from './measure.js';

/**
 * Sequential image export: a 1 GiB disk written whole (1 MiB writes, 16 MiB commits),
 * read back through its time image at the last point in 4 MiB chunks, beside a sequential
 * read of a plain file holding the same bytes. Cold (page cache dropped) and warm.
 * Only the reads are timed; the sha256 that proves both sides equal is taken outside.
 */

const CHUNK = 4 * MiB;
const TARGET_MBPS = 500;

interface Reader {
  size: number;
  readInto(out: Buffer, offset: number): void;
}

function sequential(r: Reader): { ms: number; sha256: string } {
  const chunk = Buffer.allocUnsafe(CHUNK);
  const h = createHash('sha256');
  let ms = 0;
  for (let at = 0; at < r.size; at += CHUNK) {
    const part = chunk.subarray(0, Math.min(CHUNK, r.size - at));
    const t0 = now();
    r.readInto(part, at);
    ms += now() - t0;
    h.update(part);
  }
  return { ms, sha256: h.digest('hex') };
}

function fileReader(path: string, size: number): Reader & { close(): void } {
  const fd = openSync(path, 'r');
  return {
    size,
    readInto: (out, offset) => {
      for (let done = 0; done < out.length; ) {
        const n = readSync(fd, out, done, out.length - done, offset + done);
        if (n === 0) throw new Error('short read of the raw file');
        done += n;
      }
    },
    close: () => closeSync(fd),
  };
}

async function build(dir: string, rawPath: string, kind: DataKind, size: number, passphrase?: string): Promise<void> {
  await Appliance.init(dir, { passphrase });
  const app = await Appliance.open(dir, { writable: true, passphrase });
  const fd = openSync(rawPath, 'w');
  try {
    const d = app.addDisk({ name: 'bench', source: '/dev/null', size, mode: 'scan', blockSize: 64 * KiB, identity: {} });
    const p = pool(kind);
    for (let at = 0, i = 0; at < size; ) {
      const b = app.beginBatch(d);
      for (const end = Math.min(size, at + 16 * MiB); at < end; at += MiB, i++) {
        const data = slice(p, i, MiB);
        b.write(at, data);
        writeSync(fd, data, 0, data.length, at);
      }
      await b.commit();
    }
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
    app.close();
  }
}

export async function benchExport(): Promise<void> {
  const size = scaled(GiB, 64 * MiB);
  const rows: Array<Array<string | number>> = [];
  const data: Record<string, Record<string, number>> = {};
  let worst = Infinity;
  let cold = true;
  for (const c of [
    { kind: 'text' as DataKind, passphrase: undefined },
    { kind: 'random' as DataKind, passphrase: undefined },
    { kind: 'text' as DataKind, passphrase: 'bench passphrase, not secret' },
  ]) {
    const dir = tempDir('export');
    try {
      const appDir = join(dir.path, 'appliance');
      const rawPath = join(dir.path, 'disk.img');
      await build(appDir, rawPath, c.kind, size, c.passphrase);
      const app = await Appliance.open(appDir, { passphrase: c.passphrase });
      const raw = fileReader(rawPath, size);
      try {
        const img = app.image(app.disk('bench'), app.timeline.latest(app.disk('bench'))!.seq);
        for (const cache of ['cold', 'warm'] as const) {
          const segments = join(appDir, 'segments');
          if (cache === 'cold') cold = dropCaches([rawPath]) && cold;
          const r = sequential(raw);
          if (cache === 'cold') cold = dropCaches([segments]) && cold;
          app.records.clear();
          const o = sequential(img);
          if (o.sha256 !== r.sha256) throw new Error(`the exported image of ${c.kind} data differs from the raw file`);
          const ours = mbps(size, o.ms);
          const rawMBps = mbps(size, r.ms);
          const label = `${c.kind}${c.passphrase ? ' enc' : ''}, ${cache}`;
          rows.push([label, fmtMBps(ours), fmtMBps(rawMBps), fmtRatio(ours, rawMBps), (dirBytes(join(appDir, 'segments')) / size).toFixed(2)]);
          data[label] = { oursMBps: ours, rawMBps };
          worst = Math.min(worst, ours);
          log(`  … ${label}: ${fmtMBps(ours)}`);
        }
      } finally {
        raw.close();
        app.close();
      }
    } finally {
      dir.remove();
    }
  }
  report({
    title: `Sequential image export (${size / MiB} MiB disk written whole, read in 4 MiB chunks at the last point)`,
    columns: ['data, page cache', 'ours', 'raw file', 'ours/raw', 'stored/logical'],
    rows,
    data,
    notes: [
      cold
        ? 'cold: page cache dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before each side, and fincore found none of its files in memory.'
        : 'cold rows are NOT cold: dropping the page cache was not permitted (run as root), or left the files in memory (fincore).',
      'every export is checked byte for byte (sha256) against the raw file.',
      `target: export ≥ ${TARGET_MBPS} MB/s — slowest ${fmtMBps(worst)}: ${verdict(worst >= TARGET_MBPS)}`,
    ],
  });
}
