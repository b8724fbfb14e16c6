import type { Verb } from './verb.js';
import { formatIsoMicros } from '../../shared/time.js';
import { formatBytes, formatCount, parseSize } from '../../shared/units.js';
import { readSettings } from '../engine/appliance-settings.js';
import { CaptureLoop } from '../engine/capture/capture-loop.js';
import { startSplitListeners } from '../engine/capture/split-listeners.js';
import { setIdleIoPriority } from '../engine/devices/io-priority.js';
import { ChronodiskError } from '../engine/errors.js';
import { ThinningSchedule, thinToPolicy } from '../engine/retention/thinning-schedule.js';
import { flagNames } from '../engine/timeline.js';
import { applianceOptions, withAppliance, type ApplianceOptions } from './appliance-access.js';
import { printLine } from './output.js';
import { watchStopSignals } from './stop-signals.js';
import { thinEveryOption, thinEverySec } from './thin-every.js';
import { cliMessage } from './remedy-advice.js';

export const runVerb: Verb = {
  name: 'run',
  summary: "Be the appliance's writer: capture every protected disk continuously until stopped",
  configure(cmd) {
    thinEveryOption(applianceOptions(cmd))
      .option('--interval <seconds>', "seconds between scan passes of scan-mode disks (default: the appliance's setting, 300)")
      .option('--rate-limit <size>', "at most this many bytes per second of scan reads (e.g. 100M; 0 = no limit; default: the appliance's setting)")
      .option('--no-idle', 'do not lower the I/O priority to idle')
      .option('--split-dir <dir>', 'where split-mode disks listen (DIR/DISK.sock)', '/run/chronodisk')
      .option('--json', 'print one JSON object per line for each point and error')
      .action(async (opts: ApplianceOptions & { interval?: string; rateLimit?: string; idle: boolean; splitDir: string; thinEvery?: string; json?: boolean }) => {
        const interval = opts.interval === undefined ? undefined : Number(opts.interval);
        if (interval !== undefined && !(interval > 0)) throw new ChronodiskError('usage', `--interval ${opts.interval} is not a positive number of seconds`);
        const rate = opts.rateLimit === undefined ? undefined : parseSize(opts.rateLimit);
        if (opts.rateLimit !== undefined && rate === undefined) throw new ChronodiskError('usage', `--rate-limit ${opts.rateLimit} is not a size (e.g. 100M)`);
        const thinEvery = thinEverySec(opts.thinEvery);
        if (opts.idle) await setIdleIoPriority();
        const say = (obj: Record<string, unknown>, text: string) => (opts.json ? printLine(JSON.stringify(obj)) : printLine(text));
        await withAppliance(opts, { writable: true, command: 'chronodisk run' }, async (app) => {
          const settings = readSettings(app);
          const loop = new CaptureLoop(app, {
            scanIntervalSec: interval ?? settings.scanIntervalSec,
            rateLimit: rate ?? settings.rateLimit,
            onPoint: (p, how) =>
              say(
                { event: 'point', disk: p.disk, seq: p.seq, time: formatIsoMicros(p.timeUs), flags: flagNames(p.flags), bytes: p.bytes, how },
                `${formatIsoMicros(p.timeUs)} ${p.disk}: point ${p.seq} (${how}, ${formatBytes(p.bytes)})`,
              ),
            onStatus: (s) => say({ event: 'status', state: s.state, message: s.message }, `status: ${s.message}`),
            onError: (disk, e) => {
              const message = cliMessage(e);
              say({ event: 'error', disk: disk.name, message }, `${disk.name}: ${message}`);
            },
          });
          // Between capture steps, not while the person has capture paused.
          const thinning = new ThinningSchedule({
            everySec: thinEvery,
            round: () =>
              loop.betweenSteps(async () => {
                if (loop.paused !== undefined) return;
                const r = await thinToPolicy(app, Date.now() * 1000);
                if (r.removedPoints > 0 || r.bytesRewritten > 0) {
                  const message = `thinned ${formatCount(r.removedPoints, 'point')} by the retention policies, ${formatBytes(r.bytesRewritten)} rewritten${r.unfinished ? '; the rest at the next round' : ''}`;
                  say({ event: 'thinned', removedPoints: r.removedPoints, bytesRewritten: r.bytesRewritten, unfinished: r.unfinished }, `status: ${message}`);
                }
              }),
            onError: (e) => say({ event: 'error', message: cliMessage(e) }, `thinning: ${cliMessage(e)}`),
          });
          const signals = watchStopSignals();
          try {
            await loop.start();
            thinning.start();
            const split = await startSplitListeners(app, opts.splitDir, {
              onPoint: (p) =>
                say({ event: 'point', disk: p.disk, seq: p.seq, time: formatIsoMicros(p.timeUs), flags: flagNames(p.flags), bytes: p.bytes, how: 'split' }, `${formatIsoMicros(p.timeUs)} ${p.disk}: point ${p.seq} (split)`),
              onSpace: (s) => say({ event: 'status', state: s.state, message: s.message }, `status: ${s.message}`),
              onSpaceError: (e) => say({ event: 'error', message: cliMessage(e) }, `error: ${cliMessage(e)}`),
            });
            for (const l of split.listeners) say({ event: 'listening', disk: l.disk, uri: l.listening.uri(l.disk), socket: l.listening.socket }, `${l.disk}: split capture at ${l.listening.uri(l.disk)}`);
            say({ event: 'started', disks: app.disks().map((d) => d.name) }, `Capturing ${formatCount(app.disks().length, 'disk')}; stop with Ctrl-C.`);
            const sig = await signals.stopped;
            await thinning.stop();
            await split.close();
            await loop.stop();
            say({ event: 'stopped', signal: sig }, `Stopped (${sig}); every point is durable.`);
          } finally {
            signals.release();
          }
        });
      });
  },
};
