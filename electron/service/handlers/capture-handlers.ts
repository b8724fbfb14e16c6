import { readSettings, writeSettings } from '../../engine/appliance-settings.js';
import { formatBytes } from '../../../shared/units.js';
import { ChronodiskError } from '../../engine/errors.js';
import type { Handlers } from '../request-router.js';
import type { ServiceContext } from '../service-context.js';
import { checkLabel } from '../../engine/labels.js';
import { changeRetention } from '../../engine/retention/retention-change.js';
import { pointOf, policyOfWire, policyPartOfWire, retentionOf, settingsOf } from '../wire-shapes.js';

/** Capture on request, pause and resume, and the appliance's settings. */
export function captureHandlers(ctx: ServiceContext): Pick<Handlers, 'captureNow' | 'pauseCapture' | 'resumeCapture' | 'setDiskRetention' | 'getSettings' | 'setSettings'> {
  const { app } = ctx;
  return {
    captureNow: ({ disk: name, label, freeze }) => {
      const disk = app.disk(name);
      if (disk.mode === 'split') throw new ChronodiskError('usage', `${disk.name} is captured through split: every write is already a point`);
      if (label !== undefined) checkLabel(label, 'point'); // refused now, not as a failed job
      return ctx.jobs.start({
        kind: 'scan',
        title: `Scan ${disk.name}`,
        disk: disk.name,
        claims: [`disk:${disk.name}`],
        run: async (job) => {
          const r = await ctx.capture.captureNow(disk, {
            commitUnchanged: true,
            label,
            freeze,
            signal: job.signal,
            onProgress: (p) => job.progress(p.phase === 'hash' ? 'prepare' : p.phase === 'commit' ? 'commit' : 'read', p.done, p.total),
          });
          return {
            result: `Point ${r.point.seq} of ${disk.name}: read ${formatBytes(r.bytesRead)}, ${formatBytes(r.bytesChanged)} changed, ${formatBytes(r.bytesStored)} stored${r.frozen ? ', crash-consistent (frozen)' : ''}`,
            scan: { point: pointOf(r.point), bytesRead: r.bytesRead, bytesChanged: r.bytesChanged, bytesStored: r.bytesStored, seconds: r.seconds, frozen: r.frozen },
          };
        },
        cancelled: () => `Scan of ${disk.name} cancelled: no point was made`,
      });
    },

    pauseCapture: () => {
      ctx.capture.pause('paused by you');
      return {};
    },

    resumeCapture: () => {
      ctx.capture.resume();
      return {};
    },

    setDiskRetention: ({ disk: name, retention, minFreeBytes }) => {
      const disk = app.disk(name);
      // Only the levels given: the others stay exactly as the disk's policy has them.
      const r = changeRetention(app, disk, { policy: retention && policyPartOfWire(retention), minFreeBytes });
      return { disk: disk.name, retention: retentionOf(r.policy), ...(r.minFreeBytes !== undefined ? { minFreeBytes: r.minFreeBytes } : {}) };
    },

    getSettings: () => settingsOf(readSettings(app)),

    setSettings: (patch) => {
      const s = writeSettings(app, { ...patch, retention: patch.retention && policyOfWire(patch.retention) });
      ctx.capture.configure(s);
      return settingsOf(s);
    },
  };
}
