import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { protectSource } from '../../electron/engine/capture/protect.js';
import { scanPass } from '../../electron/engine/capture/scan-pass.js';
import { copyToTarget } from '../../electron/engine/restore/copy-to-target.js';
import { rollbackInPlace } from '../../electron/engine/restore/rollback.js';
import type { PointInfo } from '../../electron/engine/timeline.js';
import { fmtBytes, fmtMBps, fmtRatio, GiB, log, mbps, MiB, now, report, scaled, tempDir, verdict } from './measure.js';

/**
 * Whole-disk restore on a 4 GiB loop device (1 GiB of it random data): rolling back in
 * place after 10 MiB and after 100 MiB changed — the capture brought up to date first, as
 * the service does, and its scan timed apart — beside a full copy of the disk with dd and
 * direct I/O, and beside our own full restore onto another disk, all in the same run.
 * The rollback is timed whole: journal, writes, fdatasync, read-back verify, restore point.
 */

const TARGET_RATIO = 20;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Writes `bytes` of random data at scattered 64 KiB-aligned offsets, durably. */
function scatterWrites(device: string, size: number, bytes: number, seed: number): void {
  const fd = openSync(device, 'r+');
  const block = 64 * 1024;
  const buf = Buffer.allocUnsafe(block);
  const blocks = size / block;
  try {
    for (let i = 0; i * block < bytes; i++) {
      // A stride coprime with the block count: distinct blocks spread over the whole disk.
      const at = ((seed + i * 7919) % blocks) * block;
      randomFillSync(buf);
      writeSync(fd, buf, 0, block, at);
    }
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function benchRestore(): Promise<void> {
  if (process.getuid?.() !== 0) {
    log('  skipped: needs root for loop devices');
    return;
  }
  const size = scaled(4 * GiB, 64 * MiB);
  const filled = size / 4;
  const tmp = tempDir('chronodisk-bench-restore-');
  const loops: string[] = [];
  const attach = (name: string) => {
    sh('truncate', ['-s', String(size), join(tmp.path, name)]);
    const dev = sh('losetup', ['-f', '--show', join(tmp.path, name)]).trim();
    loops.push(dev);
    return dev;
  };
  try {
    const dev = attach('disk.img');
    const other = attach('target.img');
    sh('dd', ['if=/dev/urandom', `of=${dev}`, 'bs=4M', `count=${filled / (4 * MiB)}`, 'oflag=direct', 'status=none']);
    const dir = join(tmp.path, 'app');
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true, command: 'bench restore' });
    try {
      const disk = await protectSource(app, dev, { name: 'bench', mode: 'scan' });
      const base = (await scanPass(app, disk, { freeze: false })).point;
      log(`  baseline captured: ${fmtBytes(size)} disk, ${fmtBytes(filled)} of it random data`);

      const rows: Array<[string, number, number]> = [];
      const catchUps: number[] = [];
      for (const [i, changed] of [10 * MiB, 100 * MiB].entries()) {
        scatterWrites(dev, size, scaled(changed, MiB), 7 + i);
        const t0 = now();
        const upToDate: PointInfo = (await scanPass(app, disk, { freeze: false })).point;
        catchUps.push(now() - t0);
        const t1 = now();
        const r = await rollbackInPlace(app, disk, base, { upToDate });
        if (process.env.BENCH_PHASES) log(`  phases: ${JSON.stringify(r.phases)} total ${r.seconds}`);
        rows.push([`rollback, ${fmtBytes(scaled(changed, MiB))} changed`, now() - t1, r.bytesWritten]);
      }

      // The same disk copied whole: dd with direct I/O, then our own restore onto another disk.
      let t = now();
      sh('dd', [`if=${dev}`, `of=${other}`, 'bs=4M', 'iflag=direct', 'oflag=direct', 'conv=fdatasync', 'status=none']);
      const ddMs = now() - t;
      t = now();
      const c = await copyToTarget(app, disk, base, other);
      if (process.env.BENCH_PHASES) log(`  phases: ${JSON.stringify(c.phases)} total ${c.seconds}`);
      const copyMs = now() - t;

      report({
        title: `Whole-disk restore, ${fmtBytes(size)} disk`,
        columns: ['what', 'time', 'bytes written', 'MB/s', 'full dd copy ÷ this'],
        rows: [
          ...rows.map(([what, ms, bytes]) => [what, `${ms.toFixed(0)} ms`, fmtBytes(bytes), fmtMBps(mbps(bytes, ms)), fmtRatio(ddMs, ms)]),
          ['full copy: dd bs=4M direct I/O + fdatasync', `${ddMs.toFixed(0)} ms`, fmtBytes(size), fmtMBps(mbps(size, ddMs)), '1.00×'],
          ['full copy: chronodisk restore --to (write + verify)', `${copyMs.toFixed(0)} ms`, fmtBytes(size), fmtMBps(mbps(size, copyMs)), fmtRatio(ddMs, copyMs)],
        ],
        notes: [
          `target: rollback of 10 MiB changed ≥ ${TARGET_RATIO}× faster than the full copy — ${verdict(ddMs / rows[0]![1] >= TARGET_RATIO)} (${(ddMs / rows[0]![1]).toFixed(1)}×)`,
          `time per changed MiB: ${rows.map(([, ms, bytes]) => `${(ms / (bytes / MiB)).toFixed(1)} ms at ${fmtBytes(bytes)}`).join(', ')} (proportional when these are close)`,
          `the capture was brought up to date before each rollback by a scan pass (not in the times above): ${catchUps.map((ms) => `${ms.toFixed(0)} ms`).join(', ')};` +
            ' a track-mode service flushes its tracker instead',
        ],
        data: Object.fromEntries([...rows.map(([what, ms, bytes]) => [what, { ms, bytes }]), ['dd', { ms: ddMs, bytes: size }], ['copy', { ms: copyMs, bytes: size }]]),
      });
    } finally {
      app.close();
    }
  } finally {
    for (const l of loops) execFileSync('losetup', ['-d', l], { stdio: 'ignore' });
    tmp.remove();
  }
}
