import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { ExportTable } from '../../electron/engine/nbd/export.js';
import { FileExport } from '../../electron/engine/nbd/file-export.js';
import { NbdServer } from '../../electron/engine/nbd/server.js';
import { fmtMBps, fmtRatio, GiB, KiB, log, mbps, MiB, now, pool, prng, report, scaled, slice, tempDir, verdict } from './measure.js';
import { bestCopy, exec, fileOf, fileSha256, cli, startChronodisk, startNbdkit, type RunningServer } from './nbd-servers.js';

/**
 * NBD read and write throughput with nbdcopy (its defaults: multi-conn when offered, 64
 * requests in flight, 256 KiB requests), ours beside nbdkit's file plugin, same run, runs
 * interleaved, best of three each, page cache warm so the servers are what is measured.
 *
 * The time-image export (issue 5, target ≥ 70% of nbdkit): an appliance with captured
 * history — a disk written whole, then rounds of small random overwrites, each batch its
 * own point — served at a point in the middle of that history by `chronodisk serve`,
 * beside nbdkit serving `chronodisk image` of the same point. Both copies are checked
 * byte for byte (untimed). The server core alone: our file export against nbdkit's file
 * plugin, reads to null: and nbdcopy --flush writes into a fresh file.
 */

const READ_TARGET = 0.7;
const RUNS = 3;

/** Writes the history; returns the point to export (after half of the overwrite rounds). */
async function buildHistory(dir: string, size: number): Promise<number> {
  await Appliance.init(dir);
  const app = await Appliance.open(dir, { writable: true });
  try {
    const disk = app.addDisk({ name: 'vm', source: '/dev/null', size, mode: 'scan', blockSize: 64 * KiB, identity: {} });
    const data = pool('random');
    let i = 0;
    for (let at = 0; at < size; ) {
      const b = app.beginBatch(disk);
      for (const end = Math.min(size, at + 16 * MiB); at < end; at += MiB) b.write(at, slice(data, i++, MiB));
      await b.commit();
    }
    const rand = prng(0x0b5e);
    const rounds = 4;
    const writesPerRound = Math.max(200, Math.round(size / (512 * KiB)));
    let exported = 0;
    for (let round = 0; round < rounds; round++) {
      for (let w = 0; w < writesPerRound; w += 100) {
        const b = app.beginBatch(disk);
        for (let k = 0; k < 100; k++) {
          const len = (1 + Math.floor(rand() * 16)) * 4 * KiB;
          const off = Math.floor(rand() * ((size - len) / (4 * KiB))) * 4 * KiB;
          b.write(off, slice(data, i++, len));
        }
        const p = await b.commit();
        if (round === rounds / 2 - 1) exported = p.seq;
      }
    }
    return exported;
  } finally {
    app.close();
  }
}

/** Reads every file under `dir` once, so the runs find them in the page cache. */
function warm(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) readFileSync(join(e.parentPath, e.name));
}

/** Times `a` and `b` alternately, `runs` times each; the best of each. */
async function interleaved(runs: number, a: () => Promise<number>, b: () => Promise<number>): Promise<[number, number]> {
  let [ba, bb] = [Infinity, Infinity];
  for (let i = 0; i < runs; i++) {
    ba = Math.min(ba, await a());
    bb = Math.min(bb, await b());
  }
  return [ba, bb];
}

async function timeImageExport(dir: string, size: number): Promise<{ ours: number; nbdkit: number; seq: number }> {
  const app = join(dir, 'app');
  const t0 = now();
  const seq = await buildHistory(app, size);
  log(`  appliance: ${size / MiB} MiB disk written whole, then 4 rounds of 4-64 KiB random overwrites (100 per point), in ${((now() - t0) / 1000).toFixed(1)} s; exporting point ${seq}`);
  const image = join(dir, 'point.raw');
  await exec(process.execPath, [cli, 'image', 'vm', '-a', app, '--at', String(seq), '--out', image]);
  let ours: RunningServer | undefined;
  let kit: RunningServer | undefined;
  try {
    ours = await startChronodisk(dir, 'serve', ['serve', '-a', app, `vm@${seq}`], `vm@${seq}`, '\n}');
    kit = await startNbdkit(dir, 'kit-image', image, true);
    const check = join(dir, 'check.raw');
    await exec('nbdcopy', [ours.uri, check]);
    if (fileSha256(check) !== fileSha256(image)) throw new Error(`chronodisk serve vm@${seq} and chronodisk image of the same point differ`);
    rmSync(check);
    warm(app);
    readFileSync(image);
    const [o, k] = [ours, kit];
    const [oursMs, kitMs] = await interleaved(RUNS, () => bestCopy(1, [o.uri, 'null:']), () => bestCopy(1, [k.uri, 'null:']));
    return { ours: mbps(size, oursMs), nbdkit: mbps(size, kitMs), seq };
  } finally {
    await ours?.stop();
    await kit?.stop();
  }
}

async function serverCore(dir: string, size: number): Promise<{ read: [number, number]; write: [number, number] }> {
  const image = join(dir, 'image.raw');
  const target = join(dir, 'target.raw');
  fileOf(image, size, true);
  fileOf(target, size, false);
  readFileSync(image);
  const server = new NbdServer({
    provider: new ExportTable([
      { name: 'file-ro', open: () => FileExport.open(image, { readOnly: true }) },
      { name: 'file-rw', open: () => FileExport.open(target) },
    ]),
  });
  let kitRo: RunningServer | undefined;
  let kitRw: RunningServer | undefined;
  try {
    const ours = await server.listen({ socket: join(dir, 'ours.sock') });
    kitRo = await startNbdkit(dir, 'kit-ro', image, true);
    kitRw = await startNbdkit(dir, 'kit-rw', target, false);
    const [ro, rw] = [kitRo, kitRw];
    const read = await interleaved(RUNS, () => bestCopy(1, [ours.uri('file-ro'), 'null:']), () => bestCopy(1, [ro.uri, 'null:']));
    const fresh = () => fileOf(target, size, false);
    const write = await interleaved(RUNS, () => bestCopy(1, ['--flush', image, ours.uri('file-rw')], fresh), () => bestCopy(1, ['--flush', image, rw.uri], fresh));
    const r = (ms: number) => mbps(size, ms);
    return { read: [r(read[0]), r(read[1])], write: [r(write[0]), r(write[1])] };
  } finally {
    await server.close();
    await kitRo?.stop();
    await kitRw?.stop();
  }
}

export async function benchNbd(): Promise<void> {
  const dir = tempDir('nbd');
  const size = scaled(1 * GiB, MiB);
  try {
    const img = await timeImageExport(dir.path, size);
    const core = await serverCore(dir.path, size);
    report({
      title: `NBD read: nbdcopy to null: of ${size / MiB} MiB, page cache warm`,
      columns: ['server', 'throughput', 'vs nbdkit'],
      rows: [
        [`nbdkit file -r, chronodisk image of point ${img.seq}`, fmtMBps(img.nbdkit), '1.00×'],
        [`chronodisk serve vm@${img.seq} (time image)`, fmtMBps(img.ours), fmtRatio(img.ours, img.nbdkit)],
        ['nbdkit file -r, random image', fmtMBps(core.read[1]), '1.00×'],
        ['ours: file export, read-only (server core)', fmtMBps(core.read[0]), fmtRatio(core.read[0], core.read[1])],
      ],
      notes: [`target: time-image export ≥ ${READ_TARGET * 100}% of nbdkit — ${verdict(img.ours >= READ_TARGET * img.nbdkit)}`],
      data: {
        nbdkitImage: { mbps: img.nbdkit },
        timeImage: { mbps: img.ours, ratio: img.ours / img.nbdkit },
        nbdkitFile: { mbps: core.read[1] },
        fileRo: { mbps: core.read[0], ratio: core.read[0] / core.read[1] },
      },
    });
    report({
      title: 'NBD write: nbdcopy --flush of a random image into a fresh file behind each server',
      columns: ['server', 'throughput', 'vs nbdkit'],
      rows: [
        ['nbdkit file', fmtMBps(core.write[1]), '1.00×'],
        ['ours: file export, read-write', fmtMBps(core.write[0]), fmtRatio(core.write[0], core.write[1])],
      ],
      data: { nbdkit: { mbps: core.write[1] }, ours: { mbps: core.write[0], ratio: core.write[0] / core.write[1] } },
    });
  } finally {
    dir.remove();
  }
}
