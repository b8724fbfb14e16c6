import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Appliance } from '../../electron/engine/appliance.js';
import { protectSource } from '../../electron/engine/capture/protect.js';
import { scanPass } from '../../electron/engine/capture/scan-pass.js';
import { openAddressAt } from '../../electron/engine/files/disk-address.js';
import { restoreFiles } from '../../electron/engine/files/file-restore.js';
import { dropCaches, fmtBytes, fmtMBps, fmtRatio, GiB, log, mbps, MiB, now, pool, report, scaled, slice, tempDir } from './measure.js';

/**
 * File browsing and restore from a time image, in-process, beside the kernel reading the
 * same image loop-mounted: listing a 10,000-entry directory (names and metadata, as ls -l)
 * and restoring 1 GiB of files (as cp -a), in the same run. Page cache dropped before each.
 */

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

export async function benchFiles(): Promise<void> {
  if (process.getuid?.() !== 0) {
    log('  skipped: needs root to loop-mount the kernel side');
    return;
  }
  const entries = scaled(10_000, 100);
  const bytes = scaled(GiB, 16 * MiB);
  const fileSize = 16 * MiB;
  const tmp = tempDir('files');
  const mnt = join(tmp.path, 'mnt');
  let loop: string | undefined;
  try {
    const src = join(tmp.path, 'src');
    mkdirSync(join(src, 'many'), { recursive: true });
    mkdirSync(join(src, 'big'));
    for (let i = 0; i < entries; i++) writeFileSync(join(src, 'many', `entry-${i}.txt`), `entry ${i}\n`);
    const data = pool('random');
    for (let i = 0; i * fileSize < bytes; i++) writeFileSync(join(src, 'big', `file-${i}.bin`), slice(data, i, fileSize));
    const image = join(tmp.path, 'fs.img');
    sh('mkfs.ext4', ['-q', '-F', '-d', src, image, `${Math.ceil((bytes * 1.3 + 256 * MiB) / MiB)}M`]);
    rmSync(src, { recursive: true });
    const dir = join(tmp.path, 'app');
    await Appliance.init(dir);
    const app = await Appliance.open(dir, { writable: true, command: 'bench files' });
    try {
      const disk = await protectSource(app, image, { name: 'files', mode: 'scan' });
      const point = (await scanPass(app, disk, { freeze: false })).point;
      log(`  captured an ext4 image with ${entries} entries in one directory and ${fmtBytes(bytes)} of files`);

      dropCaches();
      let t = now();
      const opened = await openAddressAt(app.image(disk, point.seq), { disk: 'files' });
      const listed = await opened.fs.list('/many');
      const listMs = now() - t;
      dropCaches();
      t = now();
      const restored = await restoreFiles(opened.fs, ['/big'], join(tmp.path, 'ours'));
      const restoreMs = now() - t;
      await opened.close();
      rmSync(join(tmp.path, 'ours'), { recursive: true });

      mkdirSync(mnt);
      loop = sh('losetup', ['-r', '-f', '--show', image]).trim();
      sh('mount', ['-o', 'ro,noload', loop, mnt]);
      dropCaches();
      t = now();
      const names = readdirSync(join(mnt, 'many'));
      for (const n of names) lstatSync(join(mnt, 'many', n));
      const kernelListMs = now() - t;
      dropCaches();
      t = now();
      sh('cp', ['-a', join(mnt, 'big'), join(tmp.path, 'kernel')]);
      const kernelCopyMs = now() - t;
      if (listed.length !== entries || names.length !== entries) throw new Error(`listed ${listed.length} and ${names.length} entries, expected ${entries}`);

      report({
        title: `Files from a time image: ${entries} entries listed, ${fmtBytes(restored.bytes)} restored`,
        columns: ['what', 'time', 'MB/s', 'kernel ÷ this'],
        rows: [
          [`list ${entries} entries with metadata (chronodisk, in-process ext4)`, `${listMs.toFixed(0)} ms`, '', fmtRatio(kernelListMs, listMs)],
          [`readdir + lstat of the same directory (kernel, loop-mounted image)`, `${kernelListMs.toFixed(0)} ms`, '', '1.00×'],
          [`restore-files of ${fmtBytes(restored.bytes)} (chronodisk, from the appliance)`, `${restoreMs.toFixed(0)} ms`, fmtMBps(mbps(restored.bytes, restoreMs)), fmtRatio(kernelCopyMs, restoreMs)],
          [`cp -a of the same files (kernel, loop-mounted image)`, `${kernelCopyMs.toFixed(0)} ms`, fmtMBps(mbps(bytes, kernelCopyMs)), '1.00×'],
        ],
        notes: ['page cache dropped before each measurement; the kernel reads the image file directly, chronodisk reads compressed segments through the index'],
        data: {
          list: { ms: listMs, entries },
          kernelList: { ms: kernelListMs, entries },
          restore: { ms: restoreMs, bytes: restored.bytes },
          kernelCopy: { ms: kernelCopyMs, bytes },
        },
      });
    } finally {
      app.close();
    }
  } finally {
    if (loop) {
      try {
        sh('umount', [mnt]);
      } catch {
        // not mounted
      }
      sh('losetup', ['-d', loop]);
    }
    tmp.remove();
  }
}
