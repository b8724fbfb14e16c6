import type { Drive } from '../../../shared/contract.js';
import { offeredDevice, protectableDrives, type DriveChoice } from '../../engine/capture/drive-choices.js';
import { protectSource } from '../../engine/capture/protect.js';
import { ChronodiskError } from '../../engine/errors.js';
import { version } from '../../version.js';
import { applianceSpace } from '../appliance-space.js';
import type { Handlers } from '../request-router.js';
import type { ServiceContext } from '../service-context.js';
import { diskOf } from '../wire-shapes.js';

/** status, the protected disks, the drives to protect, protect and unprotect. */
export function diskHandlers(ctx: ServiceContext): Pick<Handlers, 'status' | 'listDisks' | 'listDrives' | 'protectDisk' | 'unprotectDisk'> {
  const { app } = ctx;
  return {
    status: () => {
      const paused = ctx.capture.paused;
      return { appliance: app.dir, version, writer: app.writable, encrypted: app.encrypted, ...(paused ? { paused } : {}), space: applianceSpace(app.dir) };
    },

    listDisks: () =>
      app.disks().map((d) => {
        const first = app.timeline.points(d, { limit: 1 })[0];
        const latest = app.timeline.latest(d);
        return {
          ...diskOf(d),
          points: app.timeline.count(d),
          ...(first ? { firstUs: first.timeUs } : {}),
          ...(latest ? { latestSeq: latest.seq, latestUs: latest.timeUs } : {}),
          ...ctx.capture.stateOf(d),
        };
      }),

    listDrives: async () => (await protectableDrives(app)).map(driveOf),

    protectDisk: async ({ device, name, mode, blockSize }) => {
      await offeredDevice(app, device);
      const disk = await protectSource(app, device, { name, mode, blockSize });
      ctx.events.emit('disksChanged', {});
      await ctx.capture.watch(disk);
      return diskOf(disk);
    },

    unprotectDisk: async ({ disk: name, deleteHistory }) => {
      const disk = app.disk(name);
      const running = ctx.jobs.list().find((j) => j.disk === disk.name && j.finishedUs === undefined);
      if (running) throw new ChronodiskError('busy', `${running.title} (job ${running.id}) is running on ${disk.name}; wait for it or cancel it first`);
      await ctx.capture.unwatch(disk);
      app.removeDisk(disk.name, deleteHistory);
      ctx.events.emit('disksChanged', {});
      return {};
    },
  };
}

function driveOf(d: DriveChoice): Drive {
  return {
    device: d.device,
    description: d.description,
    size: d.size,
    isSystem: d.isSystem,
    isAppliance: d.isAppliance,
    isRemovable: d.isRemovable,
    mountpoints: d.mountpoints,
    ...(d.protectedAs ? { protectedAs: d.protectedAs } : {}),
    ...(d.refusal ? { refusal: d.refusal } : {}),
    partitions: d.partitionChoices.map((p) => ({
      device: p.device,
      number: p.number,
      start: p.start,
      size: p.size,
      mountpoints: p.mountpoints,
      ...(p.protectedAs ? { protectedAs: p.protectedAs } : {}),
      ...(p.refusal ? { refusal: p.refusal } : {}),
    })),
  };
}
