import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBytes } from '../../shared/units.js';
import type { Appliance } from '../engine/appliance.js';
import type { RateLimiter } from '../engine/devices/io-priority.js';
import { ExportTable } from '../engine/nbd/export.js';
import { NbdServer } from '../engine/nbd/server.js';
import { startLiveRestore } from '../engine/restore/live-restore.js';
import type { DiskRecord } from '../engine/store/catalog-state.js';
import type { PointInfo } from '../engine/timeline.js';
import { printLine } from './output.js';
import { watchStopSignals } from './stop-signals.js';
import { checkedTarget, type TargetPromptOptions } from './restore-target-prompt.js';

/**
 * `restore DISK --at POINT --to TARGET --live`: serves the point over NBD at once (writes
 * kept), copies it onto the target in the background, lands the writes made meanwhile when
 * the copy is verified, then serves the target itself until SIGINT/SIGTERM. A stop signal
 * before the copy is done stops serving but lets the copy finish, so no write is lost.
 * With --json each event is one JSON line on stdout.
 */
export async function runLiveRestore(
  app: Appliance,
  disk: DiskRecord,
  point: PointInfo,
  opts: TargetPromptOptions & { to: string; socket?: string },
  limiter?: RateLimiter,
): Promise<void> {
  await checkedTarget(app, disk, point, opts.to, opts);
  const say = (obj: Record<string, unknown>, text: string) => printLine(opts.json ? JSON.stringify(obj) : text);
  const live = await startLiveRestore(app, disk, point, opts.to, { limiter });
  const server = new NbdServer({ provider: new ExportTable([{ name: disk.name, description: `${disk.name} at point ${point.seq}`, open: () => live.export }]) });
  const signals = watchStopSignals();
  const stopped = signals.stopped;
  try {
    const at = await server.listen({ socket: opts.socket ?? join(tmpdir(), `chronodisk-live-${process.pid}.sock`) });
    const uri = at.uri(disk.name);
    say({ event: 'serving', disk: disk.name, seq: point.seq, target: opts.to, uri, socket: at.socket }, `Serving ${disk.name} at point ${point.seq} on ${uri} while it is copied onto ${opts.to}; stop with Ctrl-C.`);
    const outcome = await Promise.race([live.done.then((r) => ({ r })), stopped.then((sig) => ({ sig }))]);
    if ('r' in outcome) {
      const r = outcome.r;
      say(
        { event: 'copied', target: opts.to, bytesWritten: r.bytesWritten, bytesFromClients: r.bytesFromClients, seconds: r.seconds, verified: r.verified, sha256: r.sha256 },
        `Copied and verified ${formatBytes(r.bytesPlanned)} onto ${opts.to} in ${r.seconds.toFixed(1)} s, with ${formatBytes(r.bytesFromClients)} written by clients meanwhile; now serving ${opts.to} itself.`,
      );
      const sig = await stopped;
      await server.close();
      say({ event: 'stopped', signal: sig }, `Stopped (${sig}); ${opts.to} holds the point and every write made to it.`);
    } else {
      await server.close();
      say({ event: 'finishing', signal: outcome.sig }, `Stopped serving (${outcome.sig}); finishing the copy so the writes made meanwhile land on ${opts.to}…`);
      const r = await live.done;
      say({ event: 'copied', target: opts.to, bytesWritten: r.bytesWritten, bytesFromClients: r.bytesFromClients, seconds: r.seconds, verified: r.verified, sha256: r.sha256 }, `Copied and verified onto ${opts.to}.`);
    }
  } finally {
    await server.close();
    await live.done.catch(() => undefined);
    await live.export.release();
    signals.release();
  }
  // A failed copy surfaces here, after serving has stopped.
  await live.done;
}
