import type { Command } from 'commander';
import { formatIsoMicros } from '../../shared/time.js';
import { formatBytes, formatCount } from '../../shared/units.js';
import { setIdleIoPriority } from '../engine/devices/io-priority.js';
import { ChronodiskService } from '../service/chronodisk-service.js';
import { applianceAccess, applianceOptions, type ApplianceOptions } from './appliance-access.js';
import { printLine } from './output.js';
import { thinEveryOption, thinEverySec } from './thin-every.js';
import { watchStopSignals } from './stop-signals.js';

export interface ServiceRunOptions extends ApplianceOptions {
  splitDir: string;
  thinEvery?: string;
  idle: boolean;
  json?: boolean;
}

/** Something the service answers on (the socket, the HTTP server), as the verb announces it. */
export interface Listener {
  json: Record<string, unknown>;
  text: string;
  close(): Promise<void>;
}

/** The options `service` and `ui` share: the appliance, split sockets, I/O priority, --json. */
export function serviceOptions(cmd: Command): Command {
  return thinEveryOption(applianceOptions(cmd))
    .option('--split-dir <dir>', 'where split-mode disks listen (DIR/DISK.sock)', '/run/chronodisk')
    .option('--no-idle', 'do not lower the I/O priority to idle')
    .option('--json', 'print one JSON object per line for each event (listening, point, status, job, stopped)');
}

/**
 * Runs the service until SIGINT or SIGTERM: opens the appliance as its writer, starts
 * capture, opens the verb's listeners, logs points, capture states and finished jobs,
 * and on the signal closes the listeners, then stops capture with a final point.
 */
export async function runServiceUntilStopped(opts: ServiceRunOptions, command: string, listen: (service: ChronodiskService) => Promise<Listener[]>): Promise<void> {
  const say = (obj: Record<string, unknown>, text: string) => printLine(opts.json ? JSON.stringify(obj) : text);
  const thinEvery = thinEverySec(opts.thinEvery);
  const access = await applianceAccess(opts);
  if (opts.idle) await setIdleIoPriority();
  // Before anything is announced: a client that stops us at once must find our handlers.
  const signals = watchStopSignals();
  try {
    const service = await ChronodiskService.start({ dir: access.dir, passphrase: access.passphrase, splitDir: opts.splitDir, command, thinEverySec: thinEvery });
    const listeners: Listener[] = [];
    try {
      service.subscribe((channel, payload) => {
        if (channel === 'pointCommitted') {
          const p = payload as { disk: string; seq: number; timeUs: number; flags: string[]; bytes?: number };
          say({ event: 'point', disk: p.disk, seq: p.seq, time: formatIsoMicros(p.timeUs), flags: p.flags, bytes: p.bytes }, `${formatIsoMicros(p.timeUs)} ${p.disk}: point ${p.seq} (${formatBytes(p.bytes ?? 0)})`);
        } else if (channel === 'captureStatus') {
          const s = payload as { disk: string; state: string; message?: string };
          say({ event: 'status', disk: s.disk, state: s.state, message: s.message }, `${s.disk}: ${s.state}${s.message ? ` (${s.message})` : ''}`);
        } else if (channel === 'jobProgress') {
          const j = payload as { id: string; kind: string; phase: string; result?: string; finishedUs?: number };
          if (j.finishedUs !== undefined) say({ event: 'job', id: j.id, kind: j.kind, phase: j.phase, result: j.result }, `job ${j.id} ${j.phase}: ${j.result ?? ''}`);
        }
      });
      for (const s of service.splitListeners) say({ event: 'listening', disk: s.disk, uri: s.listening.uri(s.disk), socket: s.listening.socket }, `${s.disk}: split capture at ${s.listening.uri(s.disk)}`);
      listeners.push(...(await listen(service)));
      for (const l of listeners) say({ event: 'listening', ...l.json }, l.text);
      const disks = service.appliance.disks().map((d) => d.name);
      say({ event: 'started', appliance: service.appliance.dir, disks }, `Chronodisk service for ${service.appliance.dir}: capturing ${formatCount(disks.length, 'disk')}; stop with Ctrl-C.`);
      const sig = await signals.stopped;
      await Promise.allSettled(listeners.map((l) => l.close()));
      await service.stop();
      say({ event: 'stopped', signal: sig }, `Stopped (${sig}); every point is durable.`);
    } catch (e) {
      await Promise.allSettled(listeners.map((l) => l.close()));
      await service.stop();
      throw e;
    }
  } finally {
    signals.release();
  }
}
