import type { FileEntry } from '../../../shared/contract.js';
import { readSettings } from '../../engine/appliance-settings.js';
import { parseDiskAddress } from '../../engine/files/disk-address.js';
import { fileVersions } from '../../engine/files/file-versions.js';
import { restoreDestinations } from '../../engine/files/restore-destinations.js';
import { listVolumes } from '../../engine/files/volume-list.js';
import type { FileStat } from '../../engine/fs/filesystem.js';
import type { Handlers } from '../request-router.js';
import { resolvePoint, type ServiceContext } from '../service-context.js';
import { pointOf } from '../wire-shapes.js';

/** Volumes, folders and file versions of a disk as it was, and where its files may be restored. */
export function fileHandlers(ctx: ServiceContext): Pick<Handlers, 'listVolumes' | 'listFiles' | 'fileVersions' | 'listRestoreDestinations'> {
  const { app } = ctx;
  return {
    listVolumes: async ({ disk: name, at }) => {
      const disk = app.disk(name);
      const point = resolvePoint(app, disk, at);
      return (await listVolumes(app.image(disk, point.seq))).map((v) => ({ address: v.partition === 0 ? disk.name : `${disk.name}:${v.partition}`, ...v }));
    },

    listFiles: async ({ disk: text, at, path }) => {
      const address = parseDiskAddress(text);
      const point = resolvePoint(app, app.disk(address.disk), at);
      const entries = await ctx.files.use(address, point.seq, async (fs) => {
        const stat = await fs.stat(path);
        return stat.type === 'dir' ? fs.list(path) : [stat];
      });
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return { point: pointOf(point), entries: entries.map(entryOf) };
    },

    fileVersions: async ({ disk: text, path, limit }) => {
      const r = await fileVersions(app, parseDiskAddress(text), path, { limit });
      return r.versions.map((v) => ({
        seq: v.point.seq,
        timeUs: v.point.timeUs,
        change: v.kind === 'created' ? ('added' as const) : v.kind,
        size: v.size,
        mtimeUs: Math.trunc(v.mtimeUs),
      }));
    },

    listRestoreDestinations: ({ disk: text }) => {
      const address = parseDiskAddress(text);
      return restoreDestinations(app.disk(address.disk), address.partition, readSettings(app).restoreFolders);
    },
  };
}

function entryOf(s: FileStat): FileEntry {
  return {
    name: s.name,
    type: s.type,
    size: s.size,
    mtimeUs: Math.trunc(s.mtimeUs),
    mode: s.mode,
    uid: s.uid,
    gid: s.gid,
    ...(s.target !== undefined ? { target: s.target } : {}),
  };
}
