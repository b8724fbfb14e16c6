import { realpathSync, statSync } from 'node:fs';
import { readSettings } from '../../engine/appliance-settings.js';
import { ChronodiskError } from '../../engine/errors.js';
import { parseDiskAddress } from '../../engine/files/disk-address.js';
import { originalFolderOf, restoreDestinations } from '../../engine/files/restore-destinations.js';
import { probeRollbackDisk } from '../../engine/restore/rollback.js';
import { offeredTarget, restoreTargetsFor } from '../../engine/restore/restore-targets.js';
import { interruptedRestore } from '../interrupted-restores.js';
import type { Handlers } from '../request-router.js';
import { copyJob, fileRestoreJob, rollbackJob, type FileGroup } from '../restore-jobs.js';
import { resolvePoint, type ServiceContext } from '../service-context.js';

/**
 * File restores into offered destinations, the list of disk restore targets, and disk
 * restores: in place (a rollback) or onto an offered, usable target. Every refusal is
 * answered at once, before a job starts.
 */
export function restoreHandlers(ctx: ServiceContext): Pick<Handlers, 'restoreFiles' | 'listRestoreTargets' | 'restoreDisk' | 'resumeJob'> {
  const { app } = ctx;
  const handlers: Pick<Handlers, 'restoreFiles' | 'listRestoreTargets' | 'restoreDisk' | 'resumeJob'> = {
    restoreFiles: ({ disk: text, at, paths, destination, overwrite }) => {
      const address = parseDiskAddress(text);
      const disk = app.disk(address.disk);
      const point = resolvePoint(app, disk, at);
      const offered = restoreDestinations(disk, address.partition, readSettings(app).restoreFolders);
      const dest = offered.find((d) => d.id === destination);
      if (!dest) throw new ChronodiskError('not-found', `${destination} is not a restore destination offered for ${text}; list them with listRestoreDestinations`);
      let groups: FileGroup[];
      if (dest.kind === 'original') {
        const byFolder = new Map<string, string[]>();
        for (const p of paths) {
          const folder = originalFolderOf(dest.path, p);
          byFolder.set(folder, [...(byFolder.get(folder) ?? []), p]);
        }
        groups = [...byFolder].map(([folder, ps]) => ({ dest: folder, paths: ps }));
      } else {
        if (!isFolder(dest.path)) throw new ChronodiskError('not-found', `the restore folder ${dest.path} is gone; create it again or change the restore folders`);
        groups = [{ dest: dest.path, paths }];
      }
      return ctx.jobs.start(fileRestoreJob(ctx, address, point, groups, dest.kind === 'original' ? 'their original folders' : dest.path, overwrite));
    },

    listRestoreTargets: async ({ disk: name }) =>
      (await restoreTargetsFor(app, app.disk(name))).map((t) => ({ ...t, usable: t.problems.length === 0 })),

    restoreDisk: async ({ disk: name, at, to }) => {
      const disk = app.disk(name);
      const point = resolvePoint(app, disk, at);
      const target = to === undefined ? undefined : await offeredTarget(app, disk, to);
      if (target && !target.inPlace) return ctx.jobs.start(copyJob(ctx, disk, point, target.device));
      const info = await probeRollbackDisk(app, disk);
      ctx.capture.checkAlone(disk);
      return ctx.jobs.start(rollbackJob(ctx, disk, point, info.realPath));
    },

    // The same point onto the same target again, through every check a new restore meets:
    // the engine finds the journal and finishes what is left.
    resumeJob: ({ id }) => {
      const r = interruptedRestore(ctx, id);
      return handlers.restoreDisk({ disk: r.disk, at: String(r.seq), ...(r.kind === 'copy' ? { to: r.target } : {}), confirm: true });
    },
  };
  return handlers;
}

function isFolder(path: string): boolean {
  try {
    return statSync(realpathSync(path)).isDirectory();
  } catch {
    return false;
  }
}
