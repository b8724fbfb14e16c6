import type { Verb } from './verb.js';
import { restoreFiles } from '../engine/files/file-restore.js';
import { formatIsoMicros } from '../../shared/time.js';
import { formatBytes, formatCount } from '../../shared/units.js';
import type { ApplianceOptions } from './appliance-access.js';
import { fileVerbOptions, withFileSystemAt } from './file-access.js';
import { printJson, printLine, progressLine } from './output.js';

export const restoreFilesVerb: Verb = {
  name: 'restore-files',
  summary: 'Copy files and folders of a disk as they were at a point into a directory',
  configure(cmd) {
    fileVerbOptions(cmd, 'required')
      .argument('<paths...>', 'files or directories inside the filesystem; / restores the whole tree')
      .requiredOption('--to <dest>', 'the directory to restore into (created if missing)')
      .option('--overwrite', 'replace files that already exist in --to')
      .option('--json', 'print JSON')
      .action(async (disk: string, paths: string[], opts: ApplianceOptions & { at: string; to: string; overwrite?: boolean; json?: boolean }) => {
        await withFileSystemAt(opts, disk, opts.at, async (fs, point) => {
          const started = performance.now();
          const progress = progressLine();
          let r;
          try {
            r = await restoreFiles(fs, paths, opts.to, {
              overwrite: opts.overwrite,
              keepOwner: process.getuid?.() === 0,
              onProgress: (done, total) => progress.update({ phase: 'restore', done, total }),
            });
          } finally {
            progress.finish();
          }
          const seconds = (performance.now() - started) / 1000;
          if (opts.json) return printJson({ disk, seq: point.seq, time: formatIsoMicros(point.timeUs), to: opts.to, ...r, seconds });
          printLine(`Restored ${formatCount(r.files, 'file')}, ${formatCount(r.dirs, 'folder')}, ${formatCount(r.symlinks, 'symlink')} and ${formatCount(r.hardLinks, 'hard link')} (${formatBytes(r.bytes)}) from point ${point.seq} to ${opts.to} in ${seconds.toFixed(1)} s.`);
          if (r.skipped.length > 0) printLine(`Skipped ${formatCount(r.skipped.length, 'special file')} (devices, fifos, sockets): ${r.skipped.slice(0, 5).join(', ')}${r.skipped.length > 5 ? ', …' : ''}`);
        });
      });
  },
};
