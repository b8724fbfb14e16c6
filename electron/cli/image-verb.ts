import { closeSync, openSync, rmSync } from 'node:fs';
import type { Verb } from './verb.js';
import { parsePointSpec, POINT_SYNTAX } from '../../shared/point.js';
import { formatIsoMicros } from '../../shared/time.js';
import { formatBytes } from '../../shared/units.js';
import { fromFsError } from '../engine/errors.js';
import { writeImageFile } from '../engine/restore/image-file.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { printJson, printLine, progressLine, refuseExistingOutput } from './output.js';

export const imageVerb: Verb = {
  name: 'image',
  summary: 'Write a disk as it was at a point to an image file',
  configure(cmd) {
    applianceOptions(cmd)
      .argument('<disk>', 'the disk name')
      .requiredOption('--at <point>', POINT_SYNTAX)
      .requiredOption('--out <file>', 'the image file to write (sparse where the disk held zeros)')
      .option('--force', 'overwrite --out if it exists')
      .option('--json', 'print JSON')
      .action(async (diskName: string, opts: ApplianceOptions & { at: string; out: string; force?: boolean; json?: boolean }) => {
        const spec = parsePointSpec(opts.at);
        refuseExistingOutput(opts.out, opts.force);
        await withAppliance(opts, {}, async (app) => {
          const disk = app.disk(diskName);
          const point = app.timeline.resolve(disk, spec);
          const image = app.image(disk, point.seq);
          const started = performance.now();
          let fd: number;
          try {
            fd = openSync(opts.out, 'w', 0o600);
          } catch (e) {
            throw fromFsError(e, opts.out);
          }
          const progress = progressLine();
          let written = false;
          try {
            await writeImageFile(image, opts.out, fd, { onProgress: (done, total) => progress.update({ phase: 'export', done, total }) });
            written = true;
          } catch (e) {
            throw fromFsError(e, opts.out);
          } finally {
            closeSync(fd);
            progress.finish();
            // A part-written image looks whole to anything that opens it later.
            if (!written) rmSync(opts.out, { force: true });
          }
          const seconds = (performance.now() - started) / 1000;
          if (opts.json) printJson({ disk: disk.name, seq: point.seq, time: formatIsoMicros(point.timeUs), out: opts.out, bytes: image.size, seconds });
          else printLine(`Wrote ${disk.name} at point ${point.seq} (${formatIsoMicros(point.timeUs)}) to ${opts.out}: ${formatBytes(image.size)} in ${seconds.toFixed(1)} s.`);
        });
      });
  },
};
